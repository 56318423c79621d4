//! `linli serve --as-of` (and `LINLI_AS_OF`): refused on a database `linli demo` did not make;
//! on a demo, the server runs as of that day — the banner on the pages, the dashboard's figures
//! of that day of the 2020 history.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use linli_store::testing::TestDb;

use crate::cli::{linli, ok};

/// `linli serve` on an ephemeral port with `args` and `env`, unstarted.
fn serve(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_linli"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env_remove("LINLI_DATABASE_URL")
        .env_remove("LINLI_AS_OF")
        .envs(env.iter().copied());
    cmd
}

/// Starts `cmd`; returns the child, its address, and the second line it printed when `as_of`
/// (which day it runs as of; without it, nothing more is printed).
fn start(mut cmd: Command, as_of: bool) -> (Child, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    out.read_line(&mut first).unwrap();
    if as_of {
        out.read_line(&mut second).unwrap();
    }
    let base = first
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    (child, base, second)
}

fn stop(mut child: Child) {
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn as_of_is_refused_on_a_database_not_made_by_demo() {
    let t = TestDb::sqlite().await;
    ok(&linli(
        &t.dir,
        None,
        &["init", "--admin-password", "admin-pass-2020"],
    ));
    for (args, env) in [
        (&["--as-of", "2020-02-10"][..], &[][..]),
        (&[][..], &[("LINLI_AS_OF", "2020-02-10")][..]),
    ] {
        let out = serve(&t.dir, args, env).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stdout}");
        assert!(stderr.contains("demo databases only"), "{stderr}");
        assert!(
            !stdout.contains("serving"),
            "refused before serving: {stdout}"
        );
    }
    // A date that is not one is refused by the argument parser.
    let out = serve(&t.dir, &["--as-of", "2020-02-30"], &[])
        .output()
        .unwrap();
    assert!(!out.status.success());
    t.finish().await;
}

#[tokio::test]
async fn a_demo_served_as_of_a_day_of_the_outbreak_shows_that_day() {
    let t = TestDb::sqlite().await;
    ok(&linli(
        &t.dir,
        None,
        &["demo", "--small", "--password", "demo-pass-2020"],
    ));
    let token = ok(&linli(&t.dir, None, &["user", "token", "staff"]))
        .trim()
        .to_owned();
    let http = reqwest::Client::new();
    let (child, base, said) = start(serve(&t.dir, &[], &[("LINLI_AS_OF", "2020-02-10")]), true);
    assert!(said.contains("as of 2020-02-10"), "{said}");
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("演示数据 · 按 2020-02-10 显示"), "{login}");
    let dash: serde_json::Value = http
        .get(format!("{base}/api/v1/epidemic/dashboard"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dash["today"], "2020-02-10", "{dash}");
    let total = &dash["total"];
    // The records of later days (releases into March) do not hide who was observed that day.
    for figure in [
        "arrivals_today",
        "under_observation",
        "centralized_quarantine",
    ] {
        assert!(total[figure].as_i64().unwrap() > 0, "{figure}: {dash}");
    }
    stop(child);

    // Served again without it, the same database shows the real day and no banner.
    let (child, base, _) = start(serve(&t.dir, &[], &[]), false);
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!login.contains("演示数据"), "{login}");
    stop(child);
    t.finish().await;
}
