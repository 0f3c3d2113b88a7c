//! `requires-python` (PEP 440 version specifiers, the subset Python versions need): whether a
//! module's Python satisfies `>=3.10,<3.13`, `~=3.11`, `==3.11.*`, `!=3.12.0`. Pure.

use crate::profile::scalar::PythonVersion;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specifier {
    clauses: Vec<(Op, Vec<u32>, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
    Compatible,
}

impl std::str::FromStr for Specifier {
    type Err = String;
    fn from_str(s: &str) -> Result<Specifier, String> {
        let mut clauses = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rest) = [
                ("~=", Op::Compatible),
                ("===", Op::Eq),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                (">=", Op::Ge),
                ("<=", Op::Le),
                (">", Op::Gt),
                ("<", Op::Lt),
            ]
            .iter()
            .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r.trim())))
            .ok_or_else(|| format!("`{part}` has no comparison (>=, <, ==, ~=, !=)"))?;
            let (rest, wildcard) = match rest.strip_suffix(".*") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let nums: Vec<u32> = rest
                .split('.')
                .map(|n| n.parse::<u32>().map_err(|_| format!("`{part}` is not a version comparison")))
                .collect::<Result<_, _>>()?;
            if nums.is_empty() || (op == Op::Compatible && nums.len() < 2) {
                return Err(format!("`{part}` is not a version comparison"));
            }
            clauses.push((op, nums, wildcard));
        }
        if clauses.is_empty() {
            return Err("an empty requires-python".into());
        }
        Ok(Specifier { clauses })
    }
}

fn padded(v: &[u32], n: usize) -> Vec<u32> {
    let mut v = v.to_vec();
    v.resize(n.max(v.len()), 0);
    v
}

impl Specifier {
    pub fn allows(&self, v: &PythonVersion) -> bool {
        let have = [v.major, v.minor, v.patch.unwrap_or(0)];
        self.clauses.iter().all(|(op, want, wildcard)| {
            let n = want.len().max(3);
            let (h, w) = (padded(&have, n), padded(want, n));
            let prefix = |len: usize| have.iter().take(len).eq(want.iter().take(len));
            match op {
                Op::Eq if *wildcard => prefix(want.len()),
                Op::Ne if *wildcard => !prefix(want.len()),
                Op::Eq => h == w,
                Op::Ne => h != w,
                Op::Ge => h >= w,
                Op::Gt => h > w,
                Op::Le => h <= w,
                Op::Lt => h < w,
                Op::Compatible => h >= w && prefix(want.len() - 1),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(spec: &str, v: &str) -> bool {
        spec.parse::<Specifier>().unwrap().allows(&v.parse().unwrap())
    }

    #[test]
    fn comparisons() {
        assert!(ok(">=3.10", "3.11.5"));
        assert!(!ok(">=3.12", "3.11.5"));
        assert!(ok(">=3.10,<3.13", "3.12.4"));
        assert!(!ok(">=3.10,<3.13", "3.13.2"));
        assert!(ok("~=3.11", "3.12.1"));
        assert!(!ok("~=3.11", "3.10.4"));
        assert!(ok("~=3.11.2", "3.11.9"));
        assert!(!ok("~=3.11.2", "3.12.0"));
        assert!(ok("==3.11.*", "3.11.5"));
        assert!(!ok("==3.11.*", "3.12.0"));
        assert!(!ok("==3.11", "3.11.5"));
        assert!(ok("!=3.12.0", "3.12.1"));
        assert!(ok(" >= 3.9 ", "3.9"));
    }

    #[test]
    fn nonsense_is_refused() {
        assert!("3.11".parse::<Specifier>().is_err());
        assert!(">=three".parse::<Specifier>().is_err());
        assert!("~=3".parse::<Specifier>().is_err());
        assert!("".parse::<Specifier>().is_err());
    }
}
