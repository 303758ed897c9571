# The format rewards of Tunix's demo notebook (examples/grpo_gemma.ipynb), as the notebook
# defines them: its MULTILINE | DOTALL regex searched, and five +-0.5 terms, one of them
# "<reasoning> opens the completion". Tunix does not install the notebook, so its two functions
# are restated here from it, term for term.
import re

reasoning_start, reasoning_end = "<reasoning>", "</reasoning>"
solution_start, solution_end = "<answer>", "</answer>"
match_format = re.compile(
    rf"^[\s]{{0,}}{reasoning_start}.+?{reasoning_end}.*?{solution_start}(.+?){solution_end}[\s]{{0,}}$",
    flags=re.MULTILINE | re.DOTALL,
)


def notebook_match_format_exactly(completions):
    return [0 if match_format.search(r) is None else 3.0 for r in completions]


def notebook_match_format_approximately(completions):
    scores = []
    for r in completions:
        score = 0
        score += 0.5 if r.count(reasoning_start) == 1 else -0.5
        score += 0.5 if r.find(reasoning_start) == 0 else -0.5
        score += 0.5 if r.count(reasoning_end) == 1 else -0.5
        score += 0.5 if r.count(solution_start) == 1 else -0.5
        score += 0.5 if r.count(solution_end) == 1 else -0.5
        scores.append(score)
    return scores


def main(inputs):
    c = inputs["completions"]
    return {
        "notebook_match_format_exactly": notebook_match_format_exactly(c),
        "notebook_match_format_approximately": notebook_match_format_approximately(c),
    }
