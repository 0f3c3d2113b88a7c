//! Typed scalar values of a profile. Each parses itself from the YAML string, so a bad value is
//! reported by the YAML reader at its own line and column ("parse, don't validate").

use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_newtype {
    ($(#[$m:meta])* $name:ident, $check:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(&s)?;
                Ok(Self(s))
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn plain(s: &str, what: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if s.starts_with('-') {
        return Err(format!("{what} `{s}` must not start with `-`"));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(format!("{what} must be one line without control characters"));
    }
    Ok(())
}

string_newtype!(
    /// A profile name or alias: lowercase letters, digits and `-`, e.g. `saga`, `bigred200`.
    SiteName,
    |s| {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{s}` is not a valid profile name: use lowercase letters, digits and `-`, starting with a letter (e.g. `saga`)"
            ))
        }
    }
);

string_newtype!(
    /// A DNS host name or IP address (no user, no port, no spaces).
    HostName,
    |s| {
        plain(s, "host name")?;
        let ok = s.len() <= 253
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if ok {
            Ok(())
        } else {
            Err(format!("`{s}` is not a host name (letters, digits, `.`, `-` only)"))
        }
    }
);

string_newtype!(
    /// An `https://` or `http://` address where a fact was read, or `docs/….md` for a page of
    /// hpcinit's own documentation (the test cluster's profiles).
    Url,
    |s| {
        plain(s, "URL")?;
        let web = s.starts_with("https://") || s.starts_with("http://");
        let own_docs = s.starts_with("docs/") && s.ends_with(".md") && !s.contains("..");
        if (web || own_docs) && !s.contains(char::is_whitespace) {
            Ok(())
        } else {
            Err(format!("`{s}` is not a URL: it must start with https:// and hold no spaces"))
        }
    }
);

string_newtype!(
    /// An OpenSSH SHA256 host-key fingerprint: `SHA256:` and 43 unpadded base64 characters.
    Fingerprint,
    |s| {
        let body = s.strip_prefix("SHA256:").ok_or_else(|| {
            format!("`{s}` is not a SHA256 fingerprint: it must start with `SHA256:` (as `ssh-keygen -lf` prints it)")
        })?;
        let ok = body.len() == 43
            && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{s}` is not a SHA256 fingerprint: after `SHA256:` come 43 base64 characters, no `=` padding"
            ))
        }
    }
);

string_newtype!(
    /// A remote path template: absolute (`/scratch/{user}`) or under home (`~/venvs/{project}`),
    /// with only the placeholders `{user}`, `{account}` and `{project}`.
    PathTemplate,
    |s| {
        plain(s, "path")?;
        if !(s.starts_with('/') || s == "~" || s.starts_with("~/")) {
            return Err(format!("`{s}` must be an absolute path or start with `~/`"));
        }
        if s.contains(|c: char| c.is_whitespace() || matches!(c, '$' | '`' | '"' | '\'' | '\\' | ';' | '*' | '?')) {
            return Err(format!(
                "`{s}` holds a character hpcinit will not put in a remote path (spaces, `$`, quotes, `;`, globs); write variables as {{user}}, {{account}}, {{project}}"
            ));
        }
        let mut rest = s;
        while let Some(i) = rest.find('{') {
            let end = rest[i..].find('}').ok_or_else(|| format!("`{s}` has an unclosed `{{`"))?;
            let name = &rest[i + 1..i + end];
            if !matches!(name, "user" | "account" | "project") {
                return Err(format!(
                    "`{s}` uses the unknown placeholder {{{name}}}; known are {{user}}, {{account}}, {{project}}"
                ));
            }
            rest = &rest[i + end + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`{s}` has a `}}` without `{{`"));
        }
        Ok(())
    }
);

impl PathTemplate {
    /// The placeholders this template needs filled.
    pub fn needs(&self, placeholder: &str) -> bool {
        self.0.contains(&format!("{{{placeholder}}}"))
    }
}

string_newtype!(
    /// An environment-module name such as `python/3.11.5` or `Python/3.12.3-GCCcore-13.3.0`.
    ModuleName,
    |s| {
        plain(s, "module name")?;
        if s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '+')) {
            Ok(())
        } else {
            Err(format!("`{s}` is not a module name (letters, digits, `/ . - _ +`)"))
        }
    }
);

string_newtype!(
    /// A shell command line written by the profile author (a trusted, built-in or user-chosen
    /// file), e.g. `module --quiet reset` or `dusage`. One line.
    Command,
    |s| plain(s, "command")
);

string_newtype!(
    /// A scheduler directive, written as it follows `#SBATCH ` or `#BSUB `, e.g.
    /// `--mem-per-cpu=4G` or `-q hpc`.
    Directive,
    |s| {
        if s.is_empty() || s.chars().any(|c| c.is_control()) {
            return Err("a directive must be one non-empty line".into());
        }
        if !s.starts_with('-') {
            return Err(format!("directive `{s}` must start with `-` (e.g. `--mem-per-cpu=4G`, `-q hpc`)"));
        }
        Ok(())
    }
);

string_newtype!(
    /// An OpenSSH `Host` pattern for a site's compute-node names, e.g. `nc?????` or `c*-*`:
    /// letters, digits, `.`, `-`, `_` and the wildcards `*` and `?`, with at least two literal
    /// characters (a pattern such as `c*` alone would send unrelated hosts through the site).
    NodePattern,
    |s| {
        plain(s, "node pattern")?;
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*' | '?')) {
            return Err(format!(
                "`{s}` is not an ssh Host pattern for node names (letters, digits, `.-_`, wildcards `*` and `?`; no `!`, spaces or commas)"
            ));
        }
        if s.chars().filter(|c| !matches!(c, '*' | '?')).count() < 2 || s.starts_with(['*', '?']) {
            return Err(format!(
                "`{s}` is too broad: it must start with the node names' own prefix and hold at least two literal characters (e.g. `nc?????`)"
            ));
        }
        Ok(())
    }
);

impl NodePattern {
    /// Whether `name` matches, as OpenSSH matches a `Host` pattern (`*` any run, `?` one
    /// character; case-sensitive).
    pub fn matches(&self, name: &str) -> bool {
        fn go(p: &[u8], n: &[u8]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
                (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
                (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
                _ => false,
            }
        }
        go(self.0.as_bytes(), name.as_bytes())
    }

    /// A name the pattern matches (for asking `ssh -G` about the block).
    pub fn example(&self) -> String {
        self.0.replace(['*', '?'], "1")
    }
}

/// A Python version as `3.11` or `3.11.5`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PythonVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: Option<u32>,
}

impl TryFrom<String> for PythonVersion {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for PythonVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a Python version such as `3.11` or `3.11.5`");
        let parts: Vec<&str> = s.split('.').collect();
        if !(2..=3).contains(&parts.len())
            || parts.iter().any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.len() > 4)
        {
            return Err(bad());
        }
        let n = |p: &str| p.parse::<u32>().map_err(|_| bad());
        let v = PythonVersion {
            major: n(parts[0])?,
            minor: n(parts[1])?,
            patch: parts.get(2).map(|p| n(p)).transpose()?,
        };
        if v.major != 3 {
            return Err(format!("`{s}`: hpcinit sets up Python 3 only"));
        }
        Ok(v)
    }
}

impl From<PythonVersion> for String {
    fn from(v: PythonVersion) -> String {
        v.to_string()
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{}", self.major, self.minor, p),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

impl PythonVersion {
    /// True when `self` (possibly `3.11`) names the version `other` (e.g. `3.11.5`).
    pub fn matches(&self, other: &PythonVersion) -> bool {
        self.major == other.major
            && self.minor == other.minor
            && (self.patch.is_none() || self.patch == other.patch)
    }

    /// The first `3.x[.y]` found in a module name (`Python/3.12.3-GCCcore-13.3.0` → 3.12.3).
    pub fn find_in(module: &str) -> Option<PythonVersion> {
        static RE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
            Regex::new(r"(?:^|[^0-9.])(3\.[0-9]+(?:\.[0-9]+)?)").expect("static regex")
        });
        RE.captures(module).and_then(|c| c[1].parse().ok())
    }
}

string_newtype!(
    /// An amount of memory for a job, as Slurm's `--mem` takes it: a whole number with an
    /// optional unit `K`, `M`, `G` or `T` (`2G`, `2000M`; without a unit, megabytes).
    Memory,
    |s| {
        static RE: std::sync::LazyLock<Regex> =
            std::sync::LazyLock::new(|| Regex::new(r"^[1-9][0-9]{0,6}[KMGT]?$").expect("static regex"));
        let ok = RE.is_match(s);
        if ok {
            Ok(())
        } else {
            Err(format!("`{s}` is not an amount of memory: write e.g. `2G` or `2000M`"))
        }
    }
);

impl Memory {
    /// In megabytes (for comparisons and LSF's `rusage[mem=…]`).
    pub fn megabytes(&self) -> u64 {
        let s = self.as_str();
        let (n, unit) = match s.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
            _ => (s, 'M'),
        };
        let n: u64 = n.parse().unwrap_or(0);
        match unit {
            'K' => n.div_ceil(1024),
            'G' => n * 1024,
            'T' => n * 1024 * 1024,
            _ => n,
        }
    }
}

/// A wall-clock limit, written `D-HH:MM:SS`, `HH:MM:SS` or whole minutes (`7-00:00:00`,
/// `24:00:00`, `60`). Two fields (`72:00`) are refused: Slurm reads them as minutes:seconds and
/// LSF as hours:minutes. Kept in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Walltime {
    pub minutes: u32,
}

impl TryFrom<String> for Walltime {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || {
            format!("`{s}` is not a walltime: write D-HH:MM:SS, HH:MM:SS or whole minutes (e.g. `7-00:00:00`, `24:00:00`)")
        };
        let (days, rest) = match s.split_once('-') {
            Some((d, r)) => (d.parse::<u32>().map_err(|_| bad())?, r),
            None => (0, s.as_str()),
        };
        let nums: Vec<u32> = rest
            .split(':')
            .map(|p| if p.len() <= 4 && !p.is_empty() { p.parse().map_err(|_| bad()) } else { Err(bad()) })
            .collect::<Result<_, _>>()?;
        let minutes = match nums.as_slice() {
            [m] if days == 0 => *m,
            [h] => h * 60,
            [h, m, sec] if *m < 60 && *sec < 60 => h * 60 + m + u32::from(*sec > 0),
            _ => return Err(bad()),
        };
        Ok(Walltime { minutes: days * 24 * 60 + minutes })
    }
}

impl From<Walltime> for String {
    fn from(w: Walltime) -> String {
        w.slurm()
    }
}

impl Walltime {
    /// As Slurm's `--time` takes it: `D-HH:MM:SS` or `HH:MM:SS`.
    pub fn slurm(&self) -> String {
        let (d, h, m) = (self.minutes / 1440, self.minutes % 1440 / 60, self.minutes % 60);
        if d > 0 {
            format!("{d}-{h:02}:{m:02}:00")
        } else {
            format!("{h:02}:{m:02}:00")
        }
    }
    /// As LSF's `-W` takes it: `HH:MM`.
    pub fn lsf(&self) -> String {
        format!("{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
    /// For people: `7 days`, `24 h`, `90 min`.
    pub fn human(&self) -> String {
        match self.minutes {
            m if m % 1440 == 0 => format!("{} day{}", m / 1440, if m == 1440 { "" } else { "s" }),
            m if m % 60 == 0 => format!("{} h", m / 60),
            m => format!("{m} min"),
        }
    }
}

/// A regular expression that a value (an account name) must match in full.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pattern(Regex);

impl TryFrom<String> for Pattern {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Regex::new(&format!("^(?:{s})$"))
            .map(Pattern)
            .map_err(|e| format!("`{s}` is not a valid regular expression: {e}"))
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.source().to_string()
    }
}

impl Pattern {
    pub fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
    /// The expression as written in the profile.
    pub fn source(&self) -> &str {
        let s = self.0.as_str();
        &s[4..s.len() - 2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walltime_forms() {
        let w = |s: &str| Walltime::try_from(s.to_string());
        assert_eq!(w("7-00:00:00").unwrap().minutes, 7 * 1440);
        assert_eq!(w("24:00:00").unwrap().minutes, 1440);
        assert!(w("72:00").is_err(), "two fields are ambiguous between Slurm and LSF");
        assert_eq!(w("72:00:00").unwrap().lsf(), "72:00");
        assert_eq!(w("15").unwrap().minutes, 15);
        assert_eq!(w("01:00:00").unwrap().slurm(), "01:00:00");
        assert_eq!(w("4-00:00:00").unwrap().slurm(), "4-00:00:00");
        assert_eq!(w("7-00:00:00").unwrap().human(), "7 days");
        for bad in ["", "1:99", "x", "1-", "-5", "1:2:3:4", "12:60:00"] {
            assert!(w(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn fingerprints() {
        let ok = "SHA256:YOkZ1uudXrFmaigdnpZ64z497ZccNhdZe/abFkDXOH8";
        assert!(Fingerprint::try_from(ok.to_string()).is_ok());
        assert!(Fingerprint::try_from(ok.replace("SHA256:", "MD5:")).is_err());
        assert!(Fingerprint::try_from(format!("{ok}=")).is_err());
        assert!(Fingerprint::try_from("SHA256:short".to_string()).is_err());
    }

    #[test]
    fn python_versions() {
        let v: PythonVersion = "3.11".parse().unwrap();
        assert!(v.matches(&"3.11.5".parse().unwrap()));
        assert!(!v.matches(&"3.12.1".parse().unwrap()));
        assert_eq!(PythonVersion::find_in("Python/3.12.3-GCCcore-13.3.0").unwrap().to_string(), "3.12.3");
        assert_eq!(PythonVersion::find_in("python/gpu/3.11.5").unwrap().to_string(), "3.11.5");
        assert_eq!(PythonVersion::find_in("python3/3.10.12").unwrap().to_string(), "3.10.12");
        assert!("2.7".parse::<PythonVersion>().is_err());
        assert!("3".parse::<PythonVersion>().is_err());
        assert!("3.11; rm".parse::<PythonVersion>().is_err());
    }

    #[test]
    fn path_templates() {
        let p = |s: &str| PathTemplate::try_from(s.to_string());
        assert!(p("/scratch/{user}").is_ok());
        assert!(p("~/venvs/{project}").is_ok());
        assert!(p("scratch").is_err());
        assert!(p("/scratch/$USER").is_err());
        assert!(p("/x/{home}").is_err());
        assert!(p("/x/{user").is_err());
        assert!(p("/x/a b").is_err());
    }

    #[test]
    fn patterns_match_whole_values() {
        let p = Pattern::try_from("nn[0-9]{4}k".to_string()).unwrap();
        assert!(p.is_match("nn1234k"));
        assert!(!p.is_match("xnn1234k"));
        assert!(!p.is_match("nn1234kk"));
        assert_eq!(p.source(), "nn[0-9]{4}k");
    }

    #[test]
    fn node_patterns_match_as_openssh_does_and_refuse_broad_ones() {
        let p = NodePattern::try_from("nc?????".to_string()).unwrap();
        assert!(p.matches("nc10101") && !p.matches("nc1010") && !p.matches("ng10101"));
        let q = NodePattern::try_from("c*-*".to_string()).unwrap();
        assert!(q.matches("c1-23") && q.matches("c10-1") && !q.matches("login-1"));
        assert!(NodePattern::try_from("hpcnode*".to_string())
            .unwrap()
            .matches(&"hpcnode*".replace('*', "1")));
        assert_eq!(p.example(), "nc11111");
        for bad in ["*", "c*", "?c1", "nc* ng*", "!narval", "a,b", "-x1"] {
            assert!(NodePattern::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
