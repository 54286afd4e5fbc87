//! podman as it runs on this kind of machine (MACHINE-NOTES.md): with runc (crun refuses the
//! hybrid cgroup layout) and no default ulimits (the sandbox forbids raising rlimits), through a
//! containers.conf of the test's own; images are imported from root file systems, never pulled.
//! scripts/test.sh installs podman, runc and busybox-static; without them a test fails and says
//! how to install them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{run, Run};

/// podman, and the images a test imported (removed when done).
pub struct Podman {
    conf: tempfile::TempPath,
    images: Vec<String>,
}

impl Podman {
    pub fn new() -> Podman {
        let found = Command::new("podman")
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        assert!(
            found.is_ok_and(|status| status.success()),
            "podman is needed: install podman, runc and busybox-static \
             (Debian packages; ./scripts/test.sh installs them)"
        );
        let conf = tempfile::NamedTempFile::new().unwrap().into_temp_path();
        std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n").unwrap();
        Podman {
            conf,
            images: Vec::new(),
        }
    }

    /// The containers.conf podman needs here (`CONTAINERS_CONF`).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The podman command line, as `STEPKIT_PODMAN` gives it to stepkit.
    pub const ARGV: &'static str = "podman --runtime runc";

    pub fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", &self.conf)
            .args(["--runtime", "runc"]);
        command
    }

    /// `tar -C root -c . | podman import`, with these Containerfile-style changes.
    pub fn import(&mut self, root: &Path, name: &str, changes: &[&str]) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "localhost/stepkit-test-{name}:{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .expect("tar runs");
        let mut import = self.command();
        import.arg("import");
        for change in changes {
            import.args(["--change", change]);
        }
        let imported = import
            .args(["-", &tag])
            .stdin(tar.stdout.take().unwrap())
            .output()
            .expect("podman import runs");
        assert!(tar.wait().unwrap().success());
        assert!(
            imported.status.success(),
            "podman import: {}",
            String::from_utf8_lossy(&imported.stderr)
        );
        self.images.push(tag.clone());
        tag
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run(self.command().arg("run").arg("--rm").args(args), None)
    }

    /// The containers podman knows whose name starts with `prefix`.
    pub fn containers(&self, prefix: &str) -> Vec<String> {
        let listed = self
            .command()
            .args(["ps", "--all", "--format", "{{.Names}}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&listed.stdout)
            .lines()
            .filter(|name| name.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        if !self.images.is_empty() {
            let _ = self
                .command()
                .args(["rmi", "--force"])
                .args(&self.images)
                .output();
        }
    }
}

/// A busybox image: the static busybox of this machine and a link per applet in /bin, no
/// entrypoint and no CMD (as docker.io/library/busybox has no entrypoint).
pub fn busybox_image(podman: &mut Podman) -> String {
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .expect("busybox is needed: install busybox-static (./scripts/test.sh does)");
    std::fs::copy(&busybox, bin.join("busybox")).unwrap();
    let applets = Command::new(&busybox).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    std::fs::create_dir_all(work.path().join("tmp")).unwrap();
    podman.import(work.path(), "busybox", &[])
}
