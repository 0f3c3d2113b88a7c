//! `--windows-ssh` inside WSL: the site's Host block (Windows form), its host keys and a copy of
//! the key, readable by the Windows user alone, on the Windows side; a re-run changes nothing;
//! `uninstall` gives the Windows `.ssh` back byte for byte.
//!
//! WSL cannot run here, so its Windows side is a **named fake** (`fake-windows/`): `cmd.exe`
//! answering `echo %USERPROFILE%` and `echo %USERNAME%`, `wslpath -u` mapping that home to a
//! directory, `icacls.exe` logging its calls and keeping one ACL per file, and the interop file
//! WSL registers (`HPCINIT_WSL_INTEROP` points at it). The sign-in, the key and the host keys are
//! real: the sandbox node of the test cluster.

use super::ssh_steps::Laptop;
use super::SERIAL;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under `dir` with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The fake Windows side: its home (as WSL sees it), the directory of fake programs, its log.
struct FakeWindows {
    home: PathBuf,
    bin: PathBuf,
    log: PathBuf,
}

fn fake_windows(l: &Laptop) -> FakeWindows {
    let root = l.path("fake-windows");
    let home = root.join("mnt/c/Users/alice");
    let bin = root.join("bin");
    let log = root.join("icacls.log");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(root.join("WSLInterop"), "enabled\n").unwrap();
    let script = |name: &str, body: String| {
        let p = bin.join(name);
        std::fs::write(
            &p,
            format!("#!/bin/sh\n# FAKE {name}: stands in for Windows, which cannot run here.\n{body}"),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    };
    script(
        "cmd.exe",
        r#"[ "$1" = /c ] || exit 1
case "$2" in
  "echo %USERPROFILE%") printf 'C:\\Users\\alice\r\n' ;;
  "echo %USERNAME%") printf 'alice\r\n' ;;
  # The Windows VS Code: the stand-in `code`, reading the Windows side's .ssh as Windows'
  # OpenSSH does, `~` being the user's profile (OpenSSH here would take the passwd home: the
  # config is read with `~/` spelled out).
  code)
    shift 2
    t=$(mktemp -d)
    sed "s|~/|{home}/|g" '{home}/.ssh/config.d/hpcinit' >"$t/hpcinit"
    sed -e "s|~/|{home}/|g" -e "s|{home}/.ssh/config.d/hpcinit|$t/hpcinit|" '{home}/.ssh/config' >"$t/config"
    HOME='{home}' HPCINIT_FAKE_CODE_SSH_CONFIG="$t/config" exec '{code}' "$@" ;;
  *) printf '%s\r\n' "$2" ;;
esac
"#
        .replace("{home}", &home.display().to_string())
        .replace(
            "{code}",
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/cluster/fake-code/code")
                .display()
                .to_string(),
        ),
    );
    script(
        "wslpath",
        format!(
            "[ \"$1\" = -u ] && [ \"$2\" = 'C:\\Users\\alice' ] && echo '{}' || exit 1\n",
            home.display()
        ),
    );
    // One ACL file per Windows path: a new file inherits its folder's (open to BUILTIN\Users).
    script(
        "icacls.exe",
        format!(
            r#"printf '%s\n' "$*" >>'{log}'
acl='{root}/acl-'$(printf '%s' "$1" | tr '\\:' '__')
if [ "$#" = 1 ]; then
  if [ -f "$acl" ]; then cat "$acl"; else printf '%s LAPTOP\\alice:(I)(F)\r\n    BUILTIN\\Users:(I)(RX)\r\n' "$1"; fi
  printf '\r\nSuccessfully processed 1 files; Failed processing 0 files\r\n'
  exit 0
fi
[ "$2 $3 $4" = "/inheritance:r /grant:r alice:F" ] || exit 5
printf '%s LAPTOP\\alice:(F)\r\n' "$1" >"$acl"
"#,
            log = log.display(),
            root = root.display()
        ),
    );
    FakeWindows { home, bin, log }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn windows_side_is_written_then_given_back_byte_for_byte() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let w = fake_windows(&l);
    let path = format!("{}:{}", w.bin.display(), std::env::var("PATH").unwrap_or_default());
    let interop = l.path("fake-windows/WSLInterop");
    let env = [("PATH", path.as_str()), ("HPCINIT_WSL_INTEROP", interop.to_str().unwrap())];
    // What the Windows user had: their own config (CRLF, as Notepad writes it) and known_hosts.
    std::fs::create_dir_all(w.home.join(".ssh")).unwrap();
    std::fs::write(w.home.join(".ssh/config"), b"Host github.com\r\n    User git\r\n").unwrap();
    std::fs::write(w.home.join(".ssh/known_hosts"), b"github.com ssh-ed25519 AAAAC3Nza\n").unwrap();
    // A public key file of the same name, left from elsewhere: never replaced, never removed.
    std::fs::write(w.home.join(".ssh/id_ed25519_hpcinit.pub"), b"ssh-ed25519 AAAA mine\n").unwrap();
    let before = tree(&w.home);

    // Inside WSL without the flag: the plan says how, and nothing is written there.
    let r = l.hpcinit(&["plan", "--site", "sandbox", "--user", "hpcuser", "--details"], &env);
    assert!(r.stdout.contains("This is WSL: `--windows-ssh`"), "{}\n{}", r.stdout, r.stderr);

    let r = l.hpcinit(&super::ssh_steps::args("sandbox", &["--windows-ssh"]), &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Windows' ssh: ✓"), "{}", r.stdout);
    let cfg = std::fs::read_to_string(w.home.join(".ssh/config.d/hpcinit")).unwrap();
    assert!(cfg.contains("Host sandbox\n") && !cfg.contains("Control"), "{cfg}");
    assert!(cfg.contains("    IdentityFile ~/.ssh/id_ed25519_hpcinit\n"), "{cfg}");
    assert!(cfg.contains("    UserKnownHostsFile ~/.ssh/known_hosts.d/hpcinit\n"), "{cfg}");
    let config = std::fs::read_to_string(w.home.join(".ssh/config")).unwrap();
    assert_eq!(
        config, "Include ~/.ssh/config.d/hpcinit\r\nHost github.com\r\n    User git\r\n",
        "the file's CRLF kept"
    );
    let key = std::fs::read(l.path(".ssh/id_ed25519_hpcinit")).unwrap();
    assert_eq!(std::fs::read(w.home.join(".ssh/id_ed25519_hpcinit")).unwrap(), key, "the key's copy");
    assert_eq!(
        std::fs::read(w.home.join(".ssh/id_ed25519_hpcinit.pub")).unwrap(),
        b"ssh-ed25519 AAAA mine\n",
        "a .pub already there is kept"
    );
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap();
    assert_eq!(std::fs::read_to_string(w.home.join(".ssh/known_hosts.d/hpcinit")).unwrap(), known);
    let log = std::fs::read_to_string(&w.log).unwrap();
    assert!(
        log.contains("C:\\Users\\alice\\.ssh\\id_ed25519_hpcinit /inheritance:r /grant:r alice:F"),
        "icacls.exe was not asked to restrict the key:\n{log}"
    );

    // A second run changes nothing on the Windows side, and asks icacls only to read.
    let written = tree(&w.home);
    let r = l.hpcinit(&super::ssh_steps::args("sandbox", &["--windows-ssh"]), &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Windows' ssh: · unchanged"), "{}", r.stdout);
    assert_eq!(tree(&w.home), written, "a re-run changed the Windows side");
    let log2 = std::fs::read_to_string(&w.log).unwrap();
    assert_eq!(log2.matches("/grant:r").count(), 1, "{log2}");

    // uninstall: the Windows .ssh is as it was, byte for byte; the Linux key stays.
    let r = l.hpcinit(&["uninstall", "--site", "sandbox"], &env);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("C:\\Users\\alice\\.ssh\\id_ed25519_hpcinit"), "{}", r.stdout);
    assert!(
        r.stdout.contains("the line `Include ~/.ssh/config.d/hpcinit` from C:\\Users\\alice\\.ssh\\config"),
        "{}",
        r.stdout
    );
    assert_eq!(tree(&w.home), before, "uninstall did not give the Windows side back:\n{}", r.stdout);
    assert!(l.path(".ssh/id_ed25519_hpcinit").exists(), "the key on this side is the person's: kept");

    // Outside WSL the flag is refused before anything happens.
    let r = l.hpcinit(
        &super::ssh_steps::args("sandbox", &["--windows-ssh"]),
        &[("HPCINIT_WSL_INTEROP", "/nonexistent")],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("this is not WSL"), "{}", r.stderr);
}

/// `hpcinit code` inside WSL: VS Code is the Windows one, started through `cmd.exe /c code`; it
/// reads the Windows side's ssh config, which has the node's entry (Windows form, no Control*
/// lines) and, after the session, the node's host key; uninstall gives the side back.
#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn from_wsl_the_windows_vs_code_reaches_the_node_with_the_windows_config() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let project = "code-wsl";
    let l = Laptop::new();
    let _c = super::remote_steps::cleanup(&l, project);
    let _q = super::jupyter_steps::NoJobsLeft(super::Cluster::get());
    let w = fake_windows(&l);
    let path = format!("{}:{}", w.bin.display(), std::env::var("PATH").unwrap_or_default());
    let interop = l.path("fake-windows/WSLInterop");
    let code_log = l.path("code");
    let env = [
        ("PATH", path.as_str()),
        ("HPCINIT_WSL_INTEROP", interop.to_str().unwrap()),
        ("HPCINIT_FAKE_CODE_LOG", code_log.to_str().unwrap()),
    ];
    let before = tree(&w.home);
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo\n").unwrap();
    let r = l.hpcinit(&super::remote_steps::base("sandbox", project, &["--windows-ssh"]), &env);
    super::remote_steps::ok(&r, "bootstrap with --windows-ssh");
    let cfg = std::fs::read_to_string(w.home.join(".ssh/config.d/hpcinit")).unwrap();
    assert!(
        cfg.contains("Host hpcnode*\n")
            && cfg.contains("    ProxyJump sandbox\n")
            && !cfg.contains("Control"),
        "{cfg}"
    );

    // Windows' OpenSSH shares no connection: each connection to the node signs in to the login
    // node again (with the key: no prompt).
    let login = super::ssh_steps::LogWindow::open(&l.c, false);
    let r = l.hpcinit(
        &[
            "code",
            "--site",
            "sandbox",
            "--user",
            "hpcuser",
            "--project-name",
            project,
            "--persist",
            "--no-vscode-settings",
            "~/scratch",
        ],
        &env,
    );
    super::remote_steps::ok(&r, "hpcinit code from WSL");
    assert!(r.stdout.contains("(the Windows VS Code, through cmd.exe)"), "{}", r.stdout);
    let node = l.c.var("HPCINIT_NODE_NAME");
    // The folder given as PATH, resolved on the cluster.
    let workdir = format!("{}/home/hpcuser/scratch", l.c.dir.display());
    assert_eq!(
        std::fs::read_to_string(l.path("code.args")).unwrap(),
        format!("--new-window --remote ssh-remote+{node} {workdir}\n")
    );
    let answered = std::fs::read_to_string(l.path("code.out")).unwrap();
    assert!(
        answered.starts_with(&format!("host {node}\njob ")) && answered.ends_with("exit 0\n"),
        "{answered}\n{}",
        std::fs::read_to_string(l.path("code.err")).unwrap_or_default()
    );
    assert_eq!(login.accepted(), 1, "the Windows side's own sign-in at the login node:\n{}", login.text());
    let known = std::fs::read_to_string(w.home.join(".ssh/known_hosts.d/hpcinit")).unwrap();
    assert!(
        known.contains(&format!("{node} ssh-ed25519 ")) && known.contains("hpcinit-node:sandbox"),
        "{known}"
    );

    let r = l.hpcinit(&["code", "--stop"], &env);
    super::remote_steps::ok(&r, "--stop");
    assert_eq!(super::jupyter_steps::queue_empties(&l.c, 20), vec![]);
    let r = l.hpcinit(&["uninstall", "--site", "sandbox"], &env);
    super::remote_steps::ok(&r, "uninstall");
    assert_eq!(tree(&w.home), before, "uninstall did not give the Windows side back:\n{}", r.stdout);
}
