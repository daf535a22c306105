//! OCI distribution against a real registry: the test starts the CNCF distribution
//! registry (Debian's docker-registry) on a free loopback port, runs the README's
//! commands for a platform team (publish the WIT package and push the component with
//! wkg, pull both back by name, check them against dist/SHA256SUMS, check the pulled
//! component in the reference host), then checks the registry's manifests and a pull by
//! digest, and stops the registry.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use host_test::bindings::{Header, HttpMethod, HttpRequest};
use host_test::delivery::http::{ClientOptions, HttpClient, Response, Transport as _};
use support::{Scratch, dist, readme_block, run, run_block, shims, text, tool};
use xtask::dist::{VERSION, component_file, sha256_hex, wit_file};

mod support;

/// How long the registry may take to answer `GET /v2/` after it starts; it takes well
/// under a second here.
const REGISTRY_START: Duration = Duration::from_secs(20);

/// The host the README's commands name; the test puts its own registry in its place.
const README_REGISTRY: &str = "registry.example.com";

/// A registry of our own: its storage and configuration in a scratch directory, killed
/// and reaped on drop.
struct Registry {
    child: Child,
    addr: String,
}

impl Registry {
    fn start(bin: &Path, dir: &Path) -> Registry {
        // A free port: bound, read and released. Another process could take it in
        // between; the start then fails to answer and says so.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n  secret: test-registry-not-a-secret\n",
                dir.join("storage").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut registry = Registry { child, addr };
        let started = Instant::now();
        loop {
            let base = format!("http://{}/v2/", registry.addr);
            if http_get(&base, "application/json").is_ok_and(|r| r.status == 200) {
                return registry;
            }
            if let Ok(Some(status)) = registry.child.try_wait() {
                panic!(
                    "the registry exited ({status}) before answering on {}:\n{}",
                    registry.addr,
                    std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < REGISTRY_START,
                "the registry did not answer on {} within {REGISTRY_START:?}",
                registry.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` through the reference host's own HTTP client (plain HTTP to loopback
/// allowed): status, headers and body.
fn http_get(url: &str, accept: &str) -> Result<Response, String> {
    let request = HttpRequest {
        method: HttpMethod::Get,
        url: url.into(),
        headers: vec![Header {
            name: "Accept".into(),
            value: accept.into(),
        }],
        body: Vec::new(),
        member_codes: Vec::new(),
        delivery_id: String::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = HttpClient::new(ClientOptions {
            timeout: Duration::from_secs(10),
            allow_http: true,
            allow_hosts: vec!["127.0.0.1".into()],
        });
        client.send(&request).await.map_err(|e| e.to_string())
    })
}

/// The OCI manifest of `repo:reference`, and its digest.
fn manifest(addr: &str, repo: &str, reference: &str) -> (serde_json::Value, String) {
    let r = http_get(
        &format!("http://{addr}/v2/{repo}/manifests/{reference}"),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .unwrap();
    assert_eq!(
        r.status,
        200,
        "{repo}:{reference}: {}",
        String::from_utf8_lossy(&r.body)
    );
    let digest = r
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("docker-content-digest"))
        .map(|h| h.value.clone())
        .expect("the registry names the manifest's digest");
    (serde_json::from_slice(&r.body).unwrap(), digest)
}

#[test]
fn publish_pull_check_digests_and_load_from_a_real_registry() {
    let Some(wkg) = tool("WKG", "wkg", "cargo install wkg --locked --version 0.16.1") else {
        return;
    };
    let Some(registry_bin) = tool(
        "DOCKER_REGISTRY",
        "docker-registry",
        "apt-get install docker-registry",
    ) else {
        return;
    };
    let dist = dist();
    let dir = Scratch::new("xtask", "oci");
    let registry = Registry::start(&registry_bin, &dir);
    let addr = registry.addr.clone();

    // wkg's configuration as the README writes it, for this registry; plain HTTP is only
    // for a loopback test registry (the README says so).
    let config = readme_block("wkg-config").replace(README_REGISTRY, &addr)
        + &format!("\n[registry.\"{addr}\".oci]\nprotocol = \"http\"\n");
    let config_file = dir.join("wkg-config.toml");
    std::fs::write(&config_file, config).unwrap();
    // The README runs from the repository's root: here a directory whose dist/ is it.
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::os::unix::fs::symlink(dist, work.join("dist")).unwrap();
    let bin = shims(&dir, &[("wkg", &wkg)]);
    let block = readme_block("xtask/tests/oci.rs").replace(README_REGISTRY, &addr);
    let out = run_block(
        &block,
        &work,
        &bin,
        &[
            ("WKG_CONFIG_FILE", config_file.to_str().unwrap()),
            ("WKG_CACHE_DIR", dir.join("wkg-cache").to_str().unwrap()),
            // `wkg oci` speaks plain HTTP to the hosts listed here.
            ("WKG_OCI_INSECURE", &addr),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("RUST_BACKTRACE", "0"),
        ],
        |_| false,
    );
    let shown = text(&out);
    // sha256sum -c: both pulled files are dist's, byte for byte.
    assert!(
        shown.contains(&format!("{}: OK", component_file())),
        "{shown}"
    );
    assert!(shown.contains(&format!("{}: OK", wit_file())), "{shown}");
    // The pulled component passes the release checks in the reference host.
    assert!(shown.contains("loads in the reference host"), "{shown}");
    let pulled = work.join("pulled");
    for f in [component_file(), wit_file()] {
        assert_eq!(
            std::fs::read(pulled.join(&f)).unwrap(),
            std::fs::read(dist.join(&f)).unwrap(),
            "{f}"
        );
    }

    // The registry holds each file as one application/wasm layer whose digest is the
    // file's SHA-256, with the release's annotations on the manifest.
    let component = std::fs::read(dist.join(component_file())).unwrap();
    let wit = std::fs::read(dist.join(wit_file())).unwrap();
    let meta = xtask::dist::metadata(&component).unwrap();
    let mut component_manifest = String::new();
    for (repo, bytes) in [
        ("connect/webhook-provider", &component),
        ("connect/webhook", &wit),
    ] {
        let (m, digest) = manifest(&addr, repo, VERSION);
        let layers = m["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1, "{m}");
        assert_eq!(layers[0]["mediaType"], "application/wasm", "{m}");
        assert_eq!(
            layers[0]["digest"],
            format!("sha256:{}", sha256_hex(bytes)),
            "{m}"
        );
        assert_eq!(layers[0]["size"], bytes.len(), "{m}");
        assert_eq!(
            m["config"]["mediaType"], "application/vnd.wasm.config.v0+json",
            "{m}"
        );
        let a = &m["annotations"];
        assert_eq!(
            a["org.opencontainers.image.version"], VERSION,
            "{repo}: {m}"
        );
        assert_eq!(
            a["org.opencontainers.image.licenses"],
            meta.licenses.as_ref().unwrap().to_string(),
            "{repo}: {m}"
        );
        assert_eq!(
            a["org.opencontainers.image.source"],
            meta.source.as_ref().unwrap().to_string(),
            "{repo}: {m}"
        );
        if repo == "connect/webhook-provider" {
            component_manifest = digest;
        }
    }

    // Pinned by the manifest's digest, the pull is the same file.
    let by_digest = dir.join("by-digest.wasm");
    let out = run(Command::new(&wkg)
        .args(["oci", "pull", "--insecure", &addr])
        .arg(format!(
            "{addr}/connect/webhook-provider@{component_manifest}"
        ))
        .arg("-o")
        .arg(&by_digest)
        .env("RUST_BACKTRACE", "0"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(&by_digest).unwrap(), component);

    // The test stops its registry.
    drop(registry);
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the registry still answers on {addr} after it was stopped"
    );
}
