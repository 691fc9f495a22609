//! kubectl as the plugin's one way into the cluster: `kubectl get --raw` for the pod and for
//! the sidecar's endpoints through the API server's pod proxy, so every kubeconfig, context,
//! credential plugin and proxy setting works as it does for kubectl itself, and RBAC on
//! `pods` and `pods/proxy` decides what may be read. kubectl's errors ("Error from server
//! (Reason): message") are read back into typed ones.

use std::process::Command;

/// What a request through kubectl ended with, when not with a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The API server could not reach the pod (not running, port closed).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
}

/// kubectl's stderr as a typed error.
pub fn classify(stderr: &str) -> ApiError {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("Error from server"))
        .unwrap_or_else(|| stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or(""));
    let (reason, message) = match line
        .strip_prefix("Error from server (")
        .and_then(|r| r.split_once("): "))
    {
        Some((reason, message)) => (reason, message.trim().to_string()),
        None => ("", line.trim().trim_start_matches("error: ").to_string()),
    };
    match reason {
        "NotFound" => ApiError::NotFound(message),
        "Forbidden" => ApiError::Forbidden(message),
        "ServiceUnavailable" | "InternalError" => ApiError::Unavailable(message),
        _ => ApiError::Other(if message.is_empty() {
            "kubectl failed without a message".into()
        } else {
            message
        }),
    }
}

/// kubectl with the user's global flags.
pub struct Kubectl {
    bin: String,
    global: Vec<String>,
}

impl Kubectl {
    /// `bin` (kubectl, or `$KUBECTL`) with `--context` and `--kubeconfig` as given.
    pub fn new(bin: String, context: Option<&str>, kubeconfig: Option<&str>) -> Kubectl {
        let mut global = Vec::new();
        if let Some(c) = context {
            global.push(format!("--context={c}"));
        }
        if let Some(k) = kubeconfig {
            global.push(format!("--kubeconfig={k}"));
        }
        Kubectl { bin, global }
    }

    fn run(&self, args: &[&str]) -> Result<String, ApiError> {
        let out = Command::new(&self.bin)
            .args(&self.global)
            .args(args)
            .output()
            .map_err(|e| ApiError::Other(format!("cannot run {}: {e}", self.bin)))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(classify(&String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// `GET path` on the API server.
    pub fn raw(&self, path: &str) -> Result<String, ApiError> {
        self.run(&["get", "--raw", path])
    }

    /// The namespace of the current context, as kubectl would use it (`default` if none).
    pub fn namespace(&self) -> Result<String, ApiError> {
        let ns = self.run(&["config", "view", "--minify", "-o", "jsonpath={..namespace}"])?;
        let ns = ns.trim();
        Ok(if ns.is_empty() { "default" } else { ns }.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectls_errors_are_read_back() {
        assert_eq!(
            classify("Error from server (NotFound): pods \"web-1\" not found\n"),
            ApiError::NotFound("pods \"web-1\" not found".into())
        );
        assert_eq!(
            classify("Error from server (Forbidden): pods \"w\" is forbidden: User \"u\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"shop\"\n"),
            ApiError::Forbidden("pods \"w\" is forbidden: User \"u\" cannot get resource \"pods/proxy\" in API group \"\" in the namespace \"shop\"".into())
        );
        assert!(matches!(
            classify("Error from server (ServiceUnavailable): error trying to reach service: dial tcp 10.0.0.1:9953: connect: connection refused"),
            ApiError::Unavailable(m) if m.contains("connection refused")
        ));
        assert_eq!(
            classify("error: context \"nope\" does not exist\n"),
            ApiError::Other("context \"nope\" does not exist".into())
        );
        assert!(matches!(classify(""), ApiError::Other(_)));
    }
}
