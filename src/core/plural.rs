//! English number agreement for messages: "1 attempt", "3 attempts", "it"/"them". One helper so
//! every message counts the same way.

use std::fmt::Display;

/// `one` when `n` is 1, else `many`.
pub fn plural<'a, N>(n: N, one: &'a str, many: &'a str) -> &'a str
where
    N: PartialEq + From<u8>,
{
    if n == N::from(1) {
        one
    } else {
        many
    }
}

/// `n` followed by the noun that agrees with it: `counted(3, "error", "errors")` is "3 errors".
pub fn counted<N>(n: N, one: &str, many: &str) -> String
where
    N: PartialEq + From<u8> + Display + Copy,
{
    format!("{n} {}", plural(n, one, many))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_takes_the_singular_and_every_other_count_the_plural() {
        assert_eq!(plural(1usize, "it", "them"), "it");
        assert_eq!(plural(0u32, "it", "them"), "them");
        assert_eq!(counted(1u64, "error", "errors"), "1 error");
        assert_eq!(counted(0usize, "error", "errors"), "0 errors");
        assert_eq!(counted(21u32, "attempt", "attempts"), "21 attempts");
    }
}
