//! Sign-in chains, run by the real `hpcinit` binary. A cluster behind a gateway, from a network
//! namespace that reaches the gateway (its own sshd) and not the login node: both hosts' keys
//! checked before any credential reaches them (the login node's read through the gateway), one
//! sign-in per hop for the whole bootstrap, nothing for a rerun, and a wrong pin on either hop
//! stopping the run with nothing sent to that hop. And a node that takes a password (or key)
//! and then a code as two SSH methods (partial success), with both transports.

use super::ssh_steps::{host_fingerprint, profile_variant, Laptop, LogWindow};
use super::SERIAL;

const RUN: &[&str] = &["--user", "hpcuser", "--yes", "--accept-new-host-key", "--no-passphrase"];

fn args<'a>(site: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--site", site];
    v.extend_from_slice(RUN);
    v.extend_from_slice(extra);
    v
}

/// Lines of an sshd log that show an authentication attempt of any outcome.
fn attempts(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| ["Accepted", "Failed", "Postponed", "Invalid user"].iter().any(|w| l.contains(w)))
        .collect()
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn through_a_gateway_one_sign_in_per_hop_for_the_whole_bootstrap() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo==1.0\n").unwrap();
    std::fs::write(l.project.join("main.py"), "print('hello')\n").unwrap();
    // The namespace cannot reach the login node directly: the gateway is the only way.
    let direct = l.hpcinit_behind_gateway(&args("sandbox", &["--ssh-only"]), &[]);
    assert_ne!(direct.code, 0, "sandbox is out of reach from the laptop namespace: {}", direct.stdout);

    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let node = LogWindow::open(&l.c, false);
    let r = l.hpcinit_behind_gateway(&args("sandbox-jump", &["--check-job"]), &[]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Ready: Sandbox behind a gateway"), "{}", r.stdout);
    assert!(r.stdout.contains("a job runs") || r.stdout.contains("test job"), "{}", r.stdout);

    // Both host keys recorded, each under its own alias, matching each server's key.
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap();
    let key_of = |var: &str| {
        std::fs::read_to_string(l.c.var(var)).unwrap().split_whitespace().nth(1).unwrap().to_string()
    };
    assert!(
        known.contains(&format!("sandbox-jump-jump ssh-ed25519 {}", key_of("HPCINIT_GATEWAY_HOST_KEY"))),
        "{known}"
    );
    assert!(
        known.contains(&format!("sandbox-jump ssh-ed25519 {}", key_of("HPCINIT_HOST_KEY_ED25519"))),
        "{known}"
    );

    // One password per hop, asked once each; one accepted sign-in on each hop for the whole
    // run (the registered key is proven by the server's answer to the key, not by a login).
    assert_eq!(
        l.prompts(),
        vec![
            "hpcuser@sandbox-jump-jump's password: ".to_string(),
            "hpcuser@sandbox-jump's password: ".to_string()
        ],
        "one prompt per hop"
    );
    assert_eq!(gw.accepted(), 1, "gateway:\n{}", gw.text());
    let node_text = node.text();
    let accepted: Vec<&str> =
        node_text.lines().filter(|l| l.starts_with("Accepted ") && l.contains(" for hpcuser from")).collect();
    assert_eq!(accepted.len(), 1, "login node: {accepted:?}");
    assert!(accepted[0].contains("Accepted password for hpcuser"), "{accepted:?}");
    // What the login node saw came through the gateway (from its loopback), never from the laptop.
    assert!(!node_text.contains("10.232.7.2"), "{node_text}");

    // The snapshot and the venv are there; the config works for the person's own ssh.
    let snap = l.c.dir.join("scratch/hpcuser/code-snapshots/demo/latest/main.py");
    assert!(snap.exists(), "{} missing", snap.display());
    let prompts_before = l.prompts().len();

    // A rerun while the masters live: nothing changes, no new sign-in anywhere.
    let gw2 = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let node2 = LogWindow::open(&l.c, false);
    let r2 = l.hpcinit_behind_gateway(&args("sandbox-jump", &[]), &[]);
    assert_eq!(r2.code, 0, "stdout:\n{}\nstderr:\n{}", r2.stdout, r2.stderr);
    assert!(!r2.stdout.contains("✓ created") && !r2.stdout.contains("✓ wrote"), "{}", r2.stdout);
    assert_eq!(gw2.accepted(), 0, "{}", gw2.text());
    assert_eq!(node2.accepted(), 0, "{}", node2.text());
    assert_eq!(l.prompts().len(), prompts_before, "nothing asked again");

    // doctor checks both hops: the gateway's host key, its sign-in, then the login node.
    let d = l.hpcinit_behind_gateway(&["doctor", "--site", "sandbox-jump", "--json"], &[]);
    assert_eq!(d.code, 0, "stdout:\n{}\nstderr:\n{}", d.stdout, d.stderr);
    let report: serde_json::Value = serde_json::from_str(&d.stdout).expect("doctor --json");
    let rows = report["checks"].as_array().unwrap();
    let row =
        |area: &str, check: &str| rows.iter().find(|r| r["area"] == area && r["check"] == check).cloned();
    let gw_row = row("gateway", "sign-in").expect("a gateway row");
    assert_eq!(gw_row["status"], "ok", "{gw_row}");
    assert!(gw_row["detail"].as_str().unwrap().contains("sandbox-jump-jump (10.232.7.1:2224)"), "{gw_row}");
    let hk = row("this machine", "host key").expect("host key row");
    assert!(hk["detail"].as_str().unwrap().contains("sandbox-jump-jump"), "{hk}");
    assert_eq!(row("cluster", "sign-in").expect("sign-in row")["status"], "ok");

    // uninstall takes back both hops: their blocks, their host keys, their connections.
    let u = l.hpcinit_behind_gateway(&["uninstall", "--site", "sandbox-jump"], &[]);
    assert_eq!(u.code, 0, "stdout:\n{}\nstderr:\n{}", u.stdout, u.stderr);
    assert!(u.stdout.contains("sandbox-jump-jump") && u.stdout.contains("2 host keys"), "{}", u.stdout);
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap_or_default();
    assert!(!known.contains("sandbox-jump"), "{known}");
    let config = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap_or_default();
    assert!(!config.contains("sandbox-jump"), "only the sandbox site (tried above) is left: {config}");
    let masters = std::fs::read_dir(l.path(".ssh"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("cm-"))
        .count();
    assert_eq!(masters, 0, "both shared connections closed");

    // With the gateway out of reach, doctor says so and names it.
    l.close_masters();
    let broken = profile_variant(&l, "sandbox-jump", "gw-down", |t| {
        t.replacen("    port: 2224\n", "    port: 2299\n", 1)
    });
    let d = l.hpcinit_behind_gateway(
        &[
            "doctor",
            "--site",
            "gw-down",
            "--user",
            "hpcuser",
            "--json",
            "--profile",
            broken.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(d.code, 1, "stdout:\n{}\nstderr:\n{}", d.stdout, d.stderr);
    assert!(d.stdout.contains("10.232.7.1") && d.stdout.contains("refused"), "{}", d.stdout);
}

/// Runs the SSH steps for a variant of sandbox-jump named `name` (its text through `edit`), which
/// must stop with exit 1 and a SECURITY error showing `real` (the server's key) and `pinned`;
/// the run, and the gateway's and the login node's logs from before it.
fn refused(
    l: &Laptop,
    name: &str,
    edit: impl Fn(String) -> String,
    real: &str,
    pinned: &str,
) -> (super::ssh_steps::Run, LogWindow, LogWindow) {
    let profile = profile_variant(l, "sandbox-jump", name, edit);
    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let node = LogWindow::open(&l.c, false);
    let r = l.hpcinit_behind_gateway(
        &[&["--profile", profile.to_str().unwrap()][..], &args(name, &["--ssh-only"])].concat(),
        &[],
    );
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("SECURITY") && r.stderr.contains(real) && r.stderr.contains(pinned),
        "{}",
        r.stderr
    );
    (r, gw, node)
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_wrong_pin_on_either_hop_stops_before_any_credential_reaches_that_hop() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let gateway_real = host_fingerprint(&l.c.var("HPCINIT_GATEWAY_HOST_KEY"));
    let node_real = host_fingerprint(&l.c.var("HPCINIT_HOST_KEY_ED25519"));
    let pins = |gateway: &str, node: &str| {
        let (gateway, node) = (gateway.to_string(), node.to_string());
        move |t: String| {
            t.replacen(
                "    port: 2224\n",
                &format!("    port: 2224\n    host_keys:\n      - algorithm: ssh-ed25519\n        fingerprint: {gateway}\n    host_keys_source: https://gateway.example.org/fingerprints\n"),
                1,
            )
            .replacen(
                "  port: 2222\n",
                &format!("  port: 2222\n  host_keys:\n    - algorithm: ssh-ed25519\n      fingerprint: {node}\n  host_keys_source: https://login.example.org/fingerprints\n"),
                1,
            )
        }
    };

    // The gateway's pin is wrong: nothing reaches either host beyond the key exchange.
    let (r, gw, node) = refused(&l, "gw-wrong", pins(wrong, &node_real), &gateway_real, wrong);
    assert!(
        r.stderr.contains("the gateway 10.232.7.1") && r.stderr.contains("gateway.example.org"),
        "names the hop and its source: {}",
        r.stderr
    );
    assert!(
        gw.text().contains("host key read [preauth]") || gw.text().contains("Connection closed"),
        "{}",
        gw.text()
    );
    assert!(attempts(&gw.text()).is_empty(), "the gateway saw an authentication attempt: {}", gw.text());
    assert!(node.text().is_empty() || attempts(&node.text()).is_empty(), "{}", node.text());
    assert!(l.prompts().is_empty(), "{:?}", l.prompts());

    // The login node's pin is wrong: the gateway (right pin) gets its sign-in, the login node
    // only a key exchange through it.
    let (r, gw, node) = refused(&l, "node-wrong", pins(&gateway_real, wrong), &node_real, wrong);
    assert!(
        r.stderr.contains("the login node 127.0.0.1 (read through node-wrong-jump)"),
        "names the hop: {}",
        r.stderr
    );
    assert_eq!(gw.accepted(), 1, "the gateway, with the right pin, was signed in to: {}", gw.text());
    let node_text = node.text();
    assert!(
        node_text.contains("Connection") || node_text.contains("preauth"),
        "the key exchange reached the node: {node_text}"
    );
    assert!(attempts(&node_text).is_empty(), "the login node saw an authentication attempt: {node_text}");
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap_or_default();
    assert!(
        known.contains("node-wrong-jump ") && !known.contains("\nnode-wrong "),
        "only the gateway is recorded: {known}"
    );
}

/// The sandbox profile moved to the "chain" sshd: a password or a key, then a one-time code, as
/// two SSH methods (partial success).
fn chain_profile(l: &Laptop, name: &str) -> std::path::PathBuf {
    profile_variant(l, "sandbox", name, |t| {
        t.replacen("  port: 2222\n", "  port: 2225\n", 1).replacen(
            "  second_factor: none\n",
            "  second_factor: totp\n",
            1,
        )
    })
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_password_then_code_chain_signs_in_once_with_either_transport() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let l = Laptop::new();
        let name = format!("chain-{transport}");
        let profile = chain_profile(&l, &name);
        let log = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_CHAIN");
        let r = l.hpcinit(
            &[
                &["--profile", profile.to_str().unwrap(), "--transport", transport][..],
                &args(&name, &["--ssh-only"]),
            ]
            .concat(),
            &[],
        );
        assert_eq!(r.code, 0, "{transport}: stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
        let text = log.text();
        let count = |what: &str| text.lines().filter(|l| l.starts_with(what)).count();
        assert_eq!(count("Partial password for hpcuser"), 1, "{transport}: the first factor once:\n{text}");
        assert_eq!(
            count("Accepted keyboard-interactive/pam for hpcuser"),
            1,
            "{transport}: the code once:\n{text}"
        );
        assert_eq!(log.accepted(), 1, "{transport}: one sign-in for the whole run:\n{text}");
        let prompts = l.prompts();
        assert_eq!(prompts.len(), 2, "{transport}: password, then code: {prompts:?}");
        assert!(
            prompts[0].contains("password") && prompts[1].contains("One-time password"),
            "{transport}: {prompts:?}"
        );
        // The key it registered is accepted (as a first factor: a code still follows).
        assert!(
            r.stdout.contains("key login works")
                || r.stdout.contains("accepts the key")
                || r.stdout.contains("key login is checked beside the next steps"),
            "{transport}: {}",
            r.stdout
        );
        assert!(text.contains("Accepted key ED25519"), "{transport}: the key proof:\n{text}");
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_gateway_needed_only_from_outside_is_used_only_there() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let profile = profile_variant(&l, "sandbox-jump", "campus", |t| {
        t.replacen("    port: 2224\n", "    port: 2224\n    when: outside\n", 1)
    });
    let run = [&["--profile", profile.to_str().unwrap()][..], &args("campus", &["--ssh-only"])].concat();

    // Inside (this machine reaches the login node): straight there, no gateway sign-in.
    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let node = LogWindow::open(&l.c, false);
    let r = l.hpcinit(&run, &[]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(gw.accepted(), 0, "inside, the gateway is not used: {}", gw.text());
    assert!(node.accepted() >= 1, "{}", node.text());
    assert_eq!(l.prompts(), vec!["hpcuser@campus's password: ".to_string()], "one password, the node's");
    let config = std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap();
    assert!(config.contains("Match originalhost campus !exec \""), "{config}");
    assert!(
        config.contains(&format!("'{}' reach 127.0.0.1 2222\"", env!("CARGO_BIN_EXE_hpcinit"))),
        "{config}"
    );
    let g = String::from_utf8_lossy(&l.ssh(&["-G", "campus"]).stdout).into_owned();
    assert!(!g.lines().any(|l| l.starts_with("proxyjump campus-jump")), "inside: direct\n{g}");
    // The gateway's key was read too (it answers from here), for later use outside.
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap();
    assert!(known.contains("campus-jump ssh-ed25519 ") && known.contains("campus ssh-ed25519 "), "{known}");

    // Outside (the laptop namespace, login node out of reach), the same config, no open
    // connection: ssh goes through the gateway by itself.
    l.close_masters();
    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let r = l.hpcinit_behind_gateway(&run, &[]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(gw.accepted(), 1, "outside, through the gateway: {}", gw.text());
    // The key registered inside opens both hops here (the test gateway shares the home).
    assert!(gw.text().contains("Accepted publickey for hpcuser"), "{}", gw.text());
    assert_eq!(l.prompts().len(), 1, "nothing asked outside: {:?}", l.prompts());
    assert_eq!(
        std::fs::read_to_string(l.path(".ssh/config.d/hpcinit")).unwrap(),
        config,
        "the config is the same"
    );
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn over_ssh2_through_a_gateway_one_sign_in_per_hop() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    std::fs::write(l.project.join("requirements.txt"), "hpcinit-demo==1.0\n").unwrap();
    std::fs::write(l.project.join("main.py"), "print('over ssh2')\n").unwrap();
    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let node = LogWindow::open(&l.c, false);
    let r = l.hpcinit_behind_gateway(&args("sandbox-jump", &["--transport", "ssh2", "--check-job"]), &[]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Ready: Sandbox behind a gateway"), "{}", r.stdout);
    // hpcinit's own prompts (no ssh here), one per hop; the gateway signed in to once, the
    // login node's sign-in and the key proof both through that one gateway session.
    assert_eq!(
        l.prompts(),
        vec!["hpcuser@10.232.7.1's password: ".to_string(), "hpcuser@127.0.0.1's password: ".to_string()]
    );
    assert_eq!(gw.accepted(), 1, "gateway:\n{}", gw.text());
    let node_text = node.text();
    let accepted: Vec<&str> =
        node_text.lines().filter(|l| l.starts_with("Accepted ") && l.contains(" for hpcuser from")).collect();
    assert_eq!(accepted.len(), 2, "the password, then the key proof: {accepted:?}");
    assert!(!node_text.contains("10.232.7.2"), "only the gateway reaches the node: {node_text}");
    let known = std::fs::read_to_string(l.path(".ssh/known_hosts.d/hpcinit")).unwrap();
    assert!(
        known.contains("sandbox-jump-jump ssh-ed25519 ") && known.contains("\nsandbox-jump ssh-ed25519 "),
        "{known}"
    );
    // The code went over SFTP through the gateway.
    let snap = l.c.dir.join("scratch/hpcuser/code-snapshots/demo/latest/main.py");
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), "print('over ssh2')\n");
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_code_at_the_gateway_and_one_at_the_login_node_each_asked_once() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for transport in ["ssh", "ssh2"] {
        let l = Laptop::new();
        let name = format!("twofa-{transport}"); // not "code": askpass.sh answers prompts naming a code with one
                                                 // The second-factor node (password + code) behind the gateway that asks its own code.
        let gw_port = l.c.var("HPCINIT_GATEWAY_MFA_PORT");
        let profile = profile_variant(&l, "sandbox-mfa", &name, |t| {
            t.replacen(
                "  port: 2223\n",
                &format!("  port: 2223\n  jump_host:\n    host: 10.232.7.1\n    port: {gw_port}\n    auth:\n      first_factor: [password]\n      second_factor: totp\n      description: The password, then a one-time code.\n      source: docs/testing.md\n"),
                1,
            )
        });
        let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY_MFA");
        let node = LogWindow::open(&l.c, true);
        let r = l.hpcinit_behind_gateway(
            &[
                &["--profile", profile.to_str().unwrap(), "--transport", transport][..],
                &args(&name, &["--ssh-only"]),
            ]
            .concat(),
            &[],
        );
        assert_eq!(r.code, 0, "{transport}: stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
        let prompts = l.prompts();
        let codes = prompts.iter().filter(|p| p.contains("One-time password")).count();
        let passwords = prompts.iter().filter(|p| p.contains("assword") && !p.contains("One-time")).count();
        assert_eq!((passwords, codes), (2, 2), "{transport}: a password and a code per hop: {prompts:?}");
        assert_eq!(gw.accepted(), 1, "{transport}: gateway:\n{}", gw.text());
        assert_eq!(node.accepted(), 1, "{transport}: login node:\n{}", node.text());
    }
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn the_key_goes_to_the_gateway_first_where_the_profile_says_so() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let gate_user = l.c.var("HPCINIT_GATE_USER");
    // The gateway is another account here (its own home and authorized_keys), as on a site.
    let profile = profile_variant(&l, "sandbox-jump", "gatekeys", |t| {
        t.replacen(
            "    port: 2224\n",
            &format!("    port: 2224\n    user: {gate_user}\n    key_registration: authorized-keys\n"),
            1,
        )
    });
    let run = [&["--profile", profile.to_str().unwrap()][..], &args("gatekeys", &["--ssh-only"])].concat();
    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let r = l.hpcinit_behind_gateway(&run, &[]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("on the gateway gatekeys-jump; key login works there"), "{}", r.stdout);
    let public = std::fs::read_to_string(l.path(".ssh/id_ed25519_hpcinit.pub")).unwrap();
    let key = public.split_whitespace().nth(1).unwrap();
    let gate_keys =
        std::fs::read_to_string(l.c.dir.join(format!("home/{gate_user}/.ssh/authorized_keys"))).unwrap();
    assert!(gate_keys.contains(key), "the gateway account has the key: {gate_keys}");
    assert!(gw.text().contains(&format!("Accepted password for {gate_user}")), "{}", gw.text());
    assert!(gw.text().contains("Accepted key ED25519"), "the gateway found the key: {}", gw.text());
    assert_eq!(l.prompts()[0], format!("{gate_user}@gatekeys-jump's password: "));

    // With no connection open, a new run asks nothing: the key opens both hops.
    l.close_masters();
    let asked = l.prompts().len();
    let gw = LogWindow::of(&l.c, "HPCINIT_SSHD_LOG_GATEWAY");
    let r = l.hpcinit_behind_gateway(&run, &[]);
    assert_eq!(r.code, 0, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(l.prompts().len(), asked, "nothing asked: {:?}", l.prompts());
    assert!(gw.text().contains(&format!("Accepted publickey for {gate_user}")), "{}", gw.text());
    // Cleanup: the gateway account's keys as they were (other tests sign in there by password).
    std::fs::write(l.c.dir.join(format!("home/{gate_user}/.ssh/authorized_keys")), "").unwrap();
}

#[test]
#[cfg_attr(not(hpcinit_cluster), ignore = "needs the test cluster: ./tests/run.sh")]
fn a_refused_sign_in_at_the_gateway_names_the_gateway_and_what_it_asks_for() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let l = Laptop::new();
    let node = LogWindow::open(&l.c, false);
    let r = l.hpcinit_behind_gateway(
        &args("sandbox-jump", &["--ssh-only"]),
        &[("HPCINIT_ASKPASS_PASSWORD", "not-the-password")],
    );
    assert_eq!(r.code, 1, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("10.232.7.1 did not accept the sign-in"), "{}", r.stderr);
    assert!(
        r.stderr.contains("the gateway sandbox-jump-jump (10.232.7.1) accepts")
            && r.stderr.contains("Check your username there (hpcuser)")
            && r.stderr.contains("The test user's password"),
        "{}",
        r.stderr
    );
    assert!(attempts(&node.text()).is_empty(), "nothing reached the login node: {}", node.text());
}
