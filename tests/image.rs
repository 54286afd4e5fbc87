//! The step image, checked with podman: the root file system of the Containerfile's final stage,
//! laid out by the same script the Containerfile runs (scripts/image-rootfs.sh; `--base` adds
//! what distroless provides: glibc, CA certificates, the nonroot user), imported as an image and
//! run as Kratix runs a sign-off Promise's containers (tests/fixtures/gate/sign-off-promise.yaml)
//! with /kratix mounted, against the fake GitHub over TLS.
//!
//! podman runs as tests/support/podman.rs sets it up; without podman this test fails and says
//! how to install it: it never skips.

#[path = "support/github.rs"]
mod github_fake;
#[path = "support/sign_off.rs"]
mod sign_off;
mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use github_fake::{FakeGitHub, TlsIdentity};
use sign_off::{assert_decided, only_issue, populate, SignOff, ISSUES, REPO, REQUEST};
use support::kratix::{ContainerSpec, Kratix};
use support::podman::{busybox_image, Podman};

const STEPKIT_IMAGE: &str = "quay.io/stepkit/stepkit:0.1.0";
const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:1.36";

/// The step image: scripts/image-rootfs.sh --base around this build's binary (debug symbols
/// stripped, to keep the import small), trusting the fake GitHub's certificate.
fn stepkit_image(podman: &mut Podman, identity: &TlsIdentity) -> String {
    let work = tempfile::tempdir().unwrap();
    let binary = work.path().join("stepkit");
    let stripped = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(env!("CARGO_BIN_EXE_stepkit"))
        .arg(&binary)
        .status()
        .expect("objcopy (binutils) runs");
    assert!(stripped.success());
    let root = work.path().join("root");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image-rootfs.sh");
    let laid_out = Command::new(script)
        .arg("--base")
        .arg(&root)
        .arg(&binary)
        .status()
        .expect("scripts/image-rootfs.sh runs");
    assert!(laid_out.success());
    let bundle = root.join("etc/ssl/certs/ca-certificates.crt");
    let mut certificates = std::fs::read_to_string(&bundle).unwrap();
    certificates.push_str(&identity.cert_pem);
    std::fs::write(&bundle, certificates).unwrap();
    // The Containerfile's USER and ENTRYPOINT.
    podman.import(
        &root,
        "stepkit",
        &[
            "USER=65532:65532",
            r#"ENTRYPOINT=["/usr/local/bin/stepkit"]"#,
        ],
    )
}

/// Every file in `image`, as `podman export` lists it.
fn files_of(podman: &Podman, image: &str) -> Vec<String> {
    let created = podman.command().args(["create", image]).output().unwrap();
    assert!(created.status.success(), "{created:?}");
    let container = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let mut exported = podman
        .command()
        .args(["export", &container])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let listing = Command::new("tar")
        .arg("-tv")
        .stdin(exported.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(exported.wait().unwrap().success());
    let _ = podman.command().args(["rm", &container]).output();
    String::from_utf8(listing.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_a_sign_off_promise_unchanged() {
    let mut podman = Podman::new();
    let identity = TlsIdentity::self_signed();
    let stepkit = stepkit_image(&mut podman, &identity);
    let busybox = busybox_image(&mut podman);

    // What the final stage holds: the binary, the sign-off names as links, completions, man
    // pages, CA certificates; the non-root user.
    let files = files_of(&podman, &stepkit);
    for expected in [
        "usr/local/bin/stepkit",
        "usr/local/bin/create-issue -> stepkit",
        "usr/local/bin/wait-approval -> stepkit",
        "usr/share/bash-completion/completions/stepkit",
        "usr/share/zsh/vendor-completions/_stepkit",
        "usr/share/fish/vendor_completions.d/stepkit.fish",
        "usr/share/man/man1/stepkit.1",
        "usr/share/man/man1/stepkit-gate-wait-approval.1",
        "etc/ssl/certs/ca-certificates.crt",
    ] {
        assert!(
            files.iter().any(|line| line.ends_with(expected)),
            "{expected} is not in the image: {files:#?}"
        );
    }
    let user = podman
        .command()
        .args(["image", "inspect", "--format", "{{.Config.User}}", &stepkit])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "65532:65532");
    let version = podman.run(&[&stepkit, "--version"]);
    assert_eq!(version.code, 0, "{version:?}");
    assert_eq!(
        version.stdout.trim(),
        format!("stepkit {}", env!("CARGO_PKG_VERSION"))
    );

    // Kratix runs the Promise's containers with their command and env, /kratix mounted.
    let fake = FakeGitHub::start_tls(&identity).await;
    populate(&fake);
    let conf = podman.conf().to_path_buf();
    let (stepkit_ref, busybox_ref) = (stepkit.clone(), busybox.clone());
    let launch = move |spec: &ContainerSpec, root: &Path, env: &[(String, String)]| {
        let image = match spec.image.as_str() {
            STEPKIT_IMAGE => &stepkit_ref,
            BUSYBOX_IMAGE => &busybox_ref,
            other => panic!("no test image for {other}"),
        };
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", &conf)
            .args(["--runtime", "runc", "run", "--rm", "--network", "host"])
            .arg("--volume")
            .arg(format!("{}:/kratix", root.display()))
            .arg("--entrypoint")
            .arg(serde_json::to_string(&spec.command).unwrap());
        // Values travel in podman's environment, never on its command line.
        for (name, value) in env {
            command.args(["--env", name]).env(name, value);
        }
        command.arg(image).args(&spec.args);
        command
    };
    let promise = SignOff::new(Box::new(launch));
    let mut kratix = Kratix::new(REQUEST, "namespace");

    promise.ask(&mut kratix, &fake);
    promise.ask(&mut kratix, &fake);
    assert_eq!(fake.count("POST", ISSUES), 1, "one issue across re-runs");
    let number = only_issue(&fake);
    let run = promise.configure_deciding(&mut kratix, &fake, number, || {
        fake.repo(REPO).close(number, "bob", "completed");
    });
    assert_decided(&run, &kratix, "approved");

    // The gate ran as the non-root user.
    let state = kratix.root().join("metadata/approval-state");
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(state).unwrap());
    assert_eq!(owner, 65532);
}
