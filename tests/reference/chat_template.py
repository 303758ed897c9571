

def main(inputs):
    """The model's own chat template (tokenizer_config.json) rendered by transformers, the ids its
    tokenizer gives for it, and Tunix's demo prompt helper (`tunix.examples.data.math_dataset.
    apply_template`, which sanitizes control tokens and applies the tokenizer's template to a
    system + user message), with the test's system prompt in place of Tunix's."""
    import logging
    logging.disable(logging.WARNING)
    from transformers import AutoTokenizer
    from tunix.examples.data import math_dataset

    tok = AutoTokenizer.from_pretrained(inputs["model_dir"])

    def ids_of(r):
        return list(r["input_ids"] if hasattr(r, "keys") else r)

    def chat(messages):
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = ids_of(tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True))
        # The rendered text through the tokenizer with nothing added: the template's own <bos>.
        plain = list(tok(text, add_special_tokens=False)["input_ids"])
        return {"text": text, "ids": ids, "plain_ids": plain}

    users = [chat([{"role": "user", "content": m}]) for m in inputs["messages"]]

    class Items(list):
        def map(self, f):
            return Items(f(x) for x in self)

    math_dataset.SYSTEM_PROMPT = inputs["system_prompt"]
    items = Items({"question": q, "answer": "steps #### 1"} for q in inputs["questions"])
    tunix = [x["prompts"] for x in math_dataset.apply_template(items, tok)]
    sanitized = [x["question"] for x in math_dataset.apply_template(items, None)]
    demo = [chat([{"role": "system", "content": inputs["system_prompt"]}, {"role": "user", "content": q}])
            for q in sanitized]
    return {"users": users, "tunix_prompts": tunix, "tunix_questions": sanitized, "demo": demo,
            "fallback_template": math_dataset.TEMPLATE,
            "isspace": [c for c in range(0x110000) if chr(c).isspace()]}
