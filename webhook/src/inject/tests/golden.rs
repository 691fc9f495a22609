//! What a pod without a mesh gets, byte for byte: the patch for every captured shape that
//! is injected, with the test settings, against `webhook/tests/golden/<shape>.patch.json`
//! (written when the injection was last changed on purpose; `UPDATE_GOLDEN=1` writes them
//! again). A change to what such pods get shows up here as a diff, not as a surprise.

use super::*;

const SHAPES: [&str; 10] = [
    "plain.json",
    "dnsconfig-clusterfirst.json",
    "init-container.json",
    "native-sidecar.json",
    "annotations-slash.json",
    "generate-name.json",
    "dry-run-plain.json",
    "injected-good.round1.json",
    "injected-good-existing-init.round1.json",
    "injected-good-existing-dnsconfig.round1.json",
];

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn pods_without_a_mesh_get_exactly_the_patch_they_got_before() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for shape in SHAPES {
        let (_, _, out) = run(shape);
        let Decision::Inject(patch) = &out.decision else {
            panic!("{shape}: not injected: {:?}", out.decision)
        };
        let got = serde_json::to_string_pretty(patch).unwrap() + "\n";
        let path = golden_dir().join(shape.replace(".json", ".patch.json"));
        if update {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        assert_eq!(got, want, "{shape}: the patch changed");
        assert!(out.warnings.is_empty(), "{shape}: {:?}", out.warnings);
    }
}
