//! Stop strings, found incrementally: after each decode chunk only the new tokens (and enough
//! tokens before them to cover a stop string that straddles the boundary) are detokenized, so a
//! completion of n tokens costs O(n) decoding, not O(n²).

/// The number of tokens to keep of `tokens` so that the completion ends with the first stop
/// string, if one ends among `tokens[scanned..]`; `tokens[..scanned]` is known to hold none.
/// `decode` must be concatenative (decode(a ++ b) == decode(a) + decode(b)), as Gemma's
/// tokenizer and the byte tokenizer are.
pub fn first_stop(
    tokens: &[u32],
    scanned: usize,
    stops: &[String],
    decode: &dyn Fn(&[u32]) -> String,
) -> Option<usize> {
    let longest = stops.iter().map(String::len).max()?;
    if tokens.len() <= scanned {
        return None;
    }
    let contains_stop = |text: &str| stops.iter().any(|s| text.contains(s.as_str()));
    // Back up until the tokens before `scanned` cover all but one byte of the longest stop.
    let mut start = scanned;
    while start > 0 && decode(&tokens[start..scanned]).len() + 1 < longest {
        start -= 1;
    }
    if !contains_stop(&decode(&tokens[start..])) {
        return None;
    }
    (scanned + 1..=tokens.len()).find(|&k| contains_stop(&decode(&tokens[start..k])))
}

/// Cuts decoded text right after the first stop string (the last token of a completion that a
/// stop string ended may decode to more than the string).
pub fn truncate_after_stop(text: &mut String, stops: &[String]) {
    let end = stops
        .iter()
        .filter_map(|s| text.find(s.as_str()).map(|at| at + s.len()))
        .min();
    if let Some(end) = end {
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(ids: &[u32]) -> String {
        ids.iter().map(|&i| i as u8 as char).collect()
    }

    fn ids(text: &str) -> Vec<u32> {
        text.bytes().map(u32::from).collect()
    }

    /// The quadratic definition: the shortest prefix whose text contains a stop.
    fn by_prefixes(tokens: &[u32], stops: &[String]) -> Option<usize> {
        (1..=tokens.len()).find(|&k| stops.iter().any(|s| bytes(&tokens[..k]).contains(s)))
    }

    #[test]
    fn chunked_scanning_finds_the_same_cut_as_every_prefix() {
        let stops = vec!["</answer>".to_string(), "STOP".to_string()];
        for text in [
            "<reasoning>x</reasoning><answer>4</answer> trailing",
            "no stop here at all",
            "ST OP then STOP",
            "</answer>",
            "a</ans",
        ] {
            let tokens = ids(text);
            let want = by_prefixes(&tokens, &stops);
            for chunk in 1..6 {
                let mut scanned = 0;
                let mut found = None;
                while scanned < tokens.len() && found.is_none() {
                    let end = (scanned + chunk).min(tokens.len());
                    found = first_stop(&tokens[..end], scanned, &stops, &bytes);
                    scanned = end;
                }
                assert_eq!(found, want, "{text:?} in chunks of {chunk}");
            }
        }
        assert_eq!(first_stop(&ids("abc"), 0, &[], &bytes), None);
        let mut text = "<answer>4</answer>\n\nmore STOP".to_string();
        truncate_after_stop(&mut text, &stops);
        assert_eq!(text, "<answer>4</answer>");
    }
}
