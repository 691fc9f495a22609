//! Containers under a real runtime: Debian's podman with runc (crun and the default rlimits
//! fail on this kernel), the images hack/images.sh builds, and a pod's container spec turned
//! into the podman flags that give it the same user, root filesystem, capabilities,
//! privileges and sysctls as kubelet would. Containers join network namespaces this harness
//! made; each is removed when its handle drops.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::require;

/// The images' tag: the workspace version, as hack/images.sh tags them.
pub fn image(name: &str) -> String {
    format!("{name}:{}", env!("CARGO_PKG_VERSION"))
}

pub fn podman() -> Command {
    require("podman", "podman");
    require("runc", "runc");
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
    c
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Fails clearly when an image is missing.
pub fn require_image(name: &str) -> String {
    let tag = image(name);
    let exists = podman()
        .args(["image", "exists", &tag])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        exists,
        "image {tag} not found: run hack/images.sh (hack/test.sh does)"
    );
    tag
}

/// Builds an image FROM scratch holding `files` (path in the image → file here).
pub fn build_scratch(tag: &str, files: &[(&str, &Path)], dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut cf = String::from("FROM scratch\n");
    for (i, (to, from)) in files.iter().enumerate() {
        let name = format!("f{i}");
        std::fs::copy(from, dir.join(&name)).unwrap();
        cf.push_str(&format!("COPY {name} {to}\n"));
    }
    std::fs::write(dir.join("Containerfile"), cf).unwrap();
    let out = podman()
        .args(["build", "--quiet", "-t", tag, "-f"])
        .arg(dir.join("Containerfile"))
        .arg(dir)
        .output()
        .unwrap();
    ok(out, "podman build");
}

/// podman flags for a container of a pod: `container` and the pod's `spec` as JSON.
/// runAsUser/runAsGroup, readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation and
/// the pod's sysctls map one to one; seccomp RuntimeDefault is podman's default.
pub fn security_flags(container: &Value, pod_spec: &Value) -> Vec<String> {
    let sc = &container["securityContext"];
    let mut f = Vec::new();
    if let Some(u) = sc["runAsUser"].as_u64() {
        let g = sc["runAsGroup"].as_u64().unwrap_or(u);
        f.push(format!("--user={u}:{g}"));
    }
    if sc["readOnlyRootFilesystem"] == true {
        f.push("--read-only".into());
    }
    if sc["allowPrivilegeEscalation"] == false {
        f.push("--security-opt=no-new-privileges".into());
    }
    for cap in sc["capabilities"]["drop"].as_array().into_iter().flatten() {
        f.push(format!("--cap-drop={}", cap.as_str().unwrap_or("")));
    }
    for s in pod_spec["securityContext"]["sysctls"]
        .as_array()
        .into_iter()
        .flatten()
    {
        f.push(format!(
            "--sysctl={}={}",
            s["name"].as_str().unwrap_or(""),
            s["value"].as_str().unwrap_or("")
        ));
    }
    f
}

/// A running container; removed on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `podman run -d` of `image` with `flags` and `args`, in network namespace `netns`.
    pub fn start(
        name: &str,
        netns: &str,
        flags: &[String],
        image: &str,
        args: &[String],
    ) -> Container {
        let _ = podman().args(["rm", "-f", "-t", "0", name]).output();
        let out = run(&["-d", "--name", name], netns, flags, image, args)
            .output()
            .unwrap();
        ok(out, &format!("podman run {name}"));
        Container { name: name.into() }
    }

    pub fn logs(&self) -> String {
        let out = podman().args(["logs", &self.name]).output().unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Whether it is still running, and its exit code once it is not.
    pub fn state(&self) -> (bool, i64) {
        let s = ok(
            podman()
                .args([
                    "inspect",
                    "--format",
                    "{{.State.Running}} {{.State.ExitCode}}",
                    &self.name,
                ])
                .output()
                .unwrap(),
            "podman inspect",
        );
        let mut w = s.split_whitespace();
        (
            w.next() == Some("true"),
            w.next().and_then(|c| c.parse().ok()).unwrap_or(-1),
        )
    }

    /// The uid its main process runs as, read from /proc.
    pub fn uid(&self) -> u32 {
        let pid = ok(
            podman()
                .args(["inspect", "--format", "{{.State.Pid}}", &self.name])
                .output()
                .unwrap(),
            "podman inspect",
        );
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .expect("a Uid line")
    }

    pub fn stop(&self) {
        let _ = podman().args(["stop", "-t", "2", &self.name]).output();
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman().args(["rm", "-f", "-t", "0", &self.name]).output();
    }
}

/// `podman run` of `image` in network namespace `netns`, with the explicit rlimits this
/// kernel needs (podman's defaults fail to apply under runc here).
fn run(mode: &[&str], netns: &str, flags: &[String], image: &str, args: &[String]) -> Command {
    let mut c = podman();
    c.arg("run")
        .args(mode)
        .args([
            "--ulimit",
            "nofile=1024:4096",
            "--ulimit",
            "nproc=4096:4096",
        ])
        .arg(format!("--network=ns:/run/netns/{netns}"))
        .args(flags)
        .arg(image)
        .args(args);
    c
}

/// `podman run --rm` to completion: exit code and output.
pub fn run_once(netns: &str, flags: &[String], image: &str, args: &[String]) -> (i32, String) {
    let out = run(&["--rm"], netns, flags, image, args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
