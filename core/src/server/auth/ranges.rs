//! Whether the key ranges a user's permissions grant cover a requested range: the
//! union of the granted intervals must contain it whole, as etcd's range permission
//! cache decides.

use crate::api::Permission;

/// A half-open key interval `[start, end)`; `end == None` is unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Interval {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
}

/// etcd's encoding of a request or permission range: an empty `range_end` is the one
/// key, "\0" is every key from `key` on.
fn interval(key: &[u8], range_end: &[u8]) -> Interval {
    match range_end {
        [] => {
            let mut end = key.to_vec();
            end.push(0);
            Interval { start: key.to_vec(), end: Some(end) }
        }
        [0] => Interval { start: key.to_vec(), end: None },
        end => Interval { start: key.to_vec(), end: Some(end.to_vec()) },
    }
}

/// True when `[key, range_end)` lies inside the union of `granted`.
pub fn covered<'a>(
    granted: impl Iterator<Item = &'a Permission>,
    key: &[u8],
    range_end: &[u8],
) -> bool {
    let want = interval(key, range_end);
    if let Some(end) = &want.end {
        if *end <= want.start {
            // An empty range asks for nothing.
            return true;
        }
    }
    let mut have: Vec<Interval> = granted.map(|p| interval(&p.key, &p.range_end)).collect();
    have.sort_by(|a, b| a.start.cmp(&b.start));
    // Sweep: how far from want.start the granted intervals reach without a gap.
    let mut reach = want.start.clone();
    for iv in have {
        if iv.start > reach {
            break;
        }
        match iv.end {
            None => return true,
            Some(end) if end > reach => reach = end,
            Some(_) => {}
        }
        if want.end.as_ref().is_some_and(|w| reach >= *w) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PermType;
    use bytes::Bytes;

    fn p(key: &str, end: &str) -> Permission {
        Permission {
            perm_type: PermType::Read,
            key: Bytes::copy_from_slice(key.as_bytes()),
            range_end: Bytes::copy_from_slice(end.as_bytes()),
        }
    }

    #[test]
    fn single_keys_prefixes_and_unions() {
        let perms = [p("a", ""), p("/x/", "/x0"), p("m", "p"), p("p", "r")];
        assert!(covered(perms.iter(), b"a", b""));
        assert!(!covered(perms.iter(), b"b", b""));
        assert!(!covered(perms.iter(), b"a", b"b"), "a key's permission is not its prefix");
        assert!(covered(perms.iter(), b"/x/1", b""));
        assert!(covered(perms.iter(), b"/x/", b"/x0"));
        assert!(!covered(perms.iter(), b"/x/", b"/x1"));
        assert!(covered(perms.iter(), b"n", b"q"), "two adjacent grants join");
        assert!(!covered(perms.iter(), b"n", b"s"));
        assert!(!covered(perms.iter(), b"n", b"\0"));
        assert!(covered([p("", "\0")].iter(), b"anything", b"\0"));
        assert!(!covered(std::iter::empty(), b"a", b""));
    }
}
