//! Choices a person makes about how a run behaves, shared by the command line, the answers
//! file and the executor. They sit at the bottom: `cli` gives them their flag values
//! (`impl ValueEnum` there), and nothing here knows of clap.

use crate::env::Env;

/// Which client carries the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// The system's OpenSSH with a shared (ControlMaster) connection.
    #[default]
    Ssh,
    /// One in-process libssh2 session.
    Ssh2,
}

impl Transport {
    /// OpenSSH where it is installed and can multiplex (not native Windows), else libssh2.
    pub fn detect(env: &Env) -> Transport {
        if crate::platform::WINDOWS {
            return Transport::Ssh2;
        }
        let found = env
            .var("PATH")
            .unwrap_or("/usr/bin:/bin")
            .split(':')
            .any(|d| std::path::Path::new(d).join("ssh").is_file());
        if found {
            Transport::Ssh
        } else {
            Transport::Ssh2
        }
    }
}

/// What to do with an environment at the planned place that is not the planned one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnExisting {
    /// Leave it and use it as it is.
    Keep,
    /// Build the planned one and swap it in once it works (the old one is then removed).
    Replace,
    /// Stop with an error.
    Fail,
}

impl OnExisting {
    /// Every choice, with its flag value.
    pub const ALL: [(OnExisting, &'static str); 3] =
        [(OnExisting::Keep, "keep"), (OnExisting::Replace, "replace"), (OnExisting::Fail, "fail")];
}

impl Transport {
    /// Every choice, with its flag value.
    pub const ALL: [(Transport, &'static str); 2] = [(Transport::Ssh, "ssh"), (Transport::Ssh2, "ssh2")];
}
