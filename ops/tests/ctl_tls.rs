//! TLS to the control gateway against the simulator's TLS gateway (rustls, as the Supervisor
//! with `--ctl-server-certificate` and `--ctl-client-ca-certificate`), with certificates made
//! by the `openssl` command for each run: a status goes through with the right CA, name and
//! client certificate, and is refused without TLS, with another CA, under another name, or
//! without the client certificate the gateway asks for.

use std::path::{Path, PathBuf};
use std::process::Command;

use fleet_sim::{demo_layout, FleetSim, SimCtlTls};
use ops::supervisor::ctl::{CtlClient, CtlError, CtlTarget, CtlTls, PackageIdentMsg};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian's openssl package)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a certificate for `cn` (with it as DNS name) signed by it: (ca, cert, key) paths.
fn pki(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    leaf(dir, &ca, &ca_key, name, cn);
    (
        dir.join(&ca),
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

fn leaf(dir: &Path, ca: &str, ca_key: &str, name: &str, cn: &str) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!("subjectAltName=DNS:{cn}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            &ext.display().to_string(),
        ],
    );
    // rustls reads PKCS#8 keys.
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &key,
            "-out",
            &format!("{name}.p8"),
        ],
    );
    std::fs::rename(dir.join(format!("{name}.p8")), dir.join(&key)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_gateway_speaks_tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca, server_cert, server_key) = pki(d, "supervisors", "ctl.builder.internal");
    // Onwatch's client certificate, signed by a CA the Supervisors trust.
    let (client_ca, client_cert, client_key) = pki(d, "onwatch", "onwatch");
    let (other_ca, _, _) = pki(d, "other", "ctl.builder.internal");
    let mut spec = demo_layout(61);
    spec.ctl_tls = Some(SimCtlTls {
        cert_pem: std::fs::read_to_string(&server_cert).unwrap(),
        key_pem: std::fs::read_to_string(&server_key).unwrap(),
        client_ca_pem: Some(std::fs::read_to_string(&client_ca).unwrap()),
    });
    let sim = FleetSim::start(spec).await.unwrap();
    let host = sim.host("builder-api-acceptance-1").unwrap();
    let client = CtlClient::default();
    let target = |tls: Option<CtlTls>, name: &str| CtlTarget {
        addr: host.ctl_addr.to_string(),
        secret: "demo-ctl-secret".to_owned().into(),
        tls: tls.map(|t| (t, name.to_owned())),
    };
    let ident = || Some(PackageIdentMsg::new("habitat", "builder-api"));
    let good = CtlTls::from_files(&ca, Some((&client_cert, &client_key)), None).unwrap();

    let reply = client
        .status(&target(Some(good.clone()), "ctl.builder.internal"), ident())
        .await
        .unwrap();
    assert_eq!(reply.statuses.len(), 1);

    // The name the settings give wins over the host's.
    let named = CtlTls::from_files(
        &ca,
        Some((&client_cert, &client_key)),
        Some("ctl.builder.internal".into()),
    )
    .unwrap();
    client
        .status(&target(Some(named), "builder-api-acceptance-1"), ident())
        .await
        .unwrap();

    for (why, t) in [
        (
            "plaintext to a TLS gateway",
            target(None, "ctl.builder.internal"),
        ),
        (
            "another CA",
            target(
                Some(
                    CtlTls::from_files(&other_ca, Some((&client_cert, &client_key)), None).unwrap(),
                ),
                "ctl.builder.internal",
            ),
        ),
        (
            "another name",
            target(Some(good.clone()), "builder-api-acceptance-1"),
        ),
        (
            "no client certificate",
            target(
                Some(CtlTls::from_files(&ca, None, None).unwrap()),
                "ctl.builder.internal",
            ),
        ),
    ] {
        let e = client.status(&t, ident()).await.unwrap_err();
        match (why, &e) {
            ("plaintext to a TLS gateway", _) => {}
            // TLS 1.3: the gateway's refusal of a missing client certificate arrives as an
            // alert on the first read after the client's handshake finished.
            ("no client certificate", CtlError::Io(m)) => {
                assert!(m.contains("CertificateRequired"), "{m}")
            }
            (_, CtlError::Tls(_)) | (_, CtlError::ReplyLost(_)) | (_, CtlError::Closed) => {}
            _ => panic!("{why}: {e}"),
        }
        assert!(
            !e.after_sent() || why == "no client certificate",
            "{why}: {e}"
        );
    }
    // A CA file that holds no certificate is a clear error at start-up.
    let empty = d.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    assert!(CtlTls::from_files(&empty, None, None)
        .unwrap_err()
        .to_string()
        .contains("holds no certificate"));
}
