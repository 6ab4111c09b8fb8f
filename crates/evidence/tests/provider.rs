//! The runtime-side providers, driven by recorded device responses: a temporary directory that
//! behaves like configfs-tsm (the fake kernel answers with a recorded report), a recorded
//! `/dev/sev-guest` response and a recorded NSM response built around the vectors.

mod common;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ciborium::value::Value;
use common::*;
use veracruz_evidence::dcap::DcapEvidence;
use veracruz_evidence::provider::{
    guid_bytes, nsm_attestation_request, probe, ConfigFs, ConfigFsTsmProvider, EvidenceProvider,
    HostFs, NsmDevice, NsmProvider, Produced, ProviderError, SevGuestDevice, SevGuestProvider,
    SnpCertKind,
};
use veracruz_evidence::{
    check_binding, verifier_for, Binding, EvidenceError, Platform, VerifierConfig,
};

const BINDING: Binding = Binding {
    nonce: [0x11; 32],
    key_hash: [0x22; 32],
    policy_hash: [0x33; 32],
};

/// A configfs-tsm "kernel" over a real temporary directory: creating an entry makes its
/// attribute files, and writing `inblob` produces the recorded `outblob` and `auxblob`.
struct FakeTsm {
    provider: &'static str,
    outblob: Vec<u8>,
    auxblob: Option<Vec<u8>>,
    /// Extra generation bumps, as if another process wrote to the entry.
    interference: u64,
    inblobs: Mutex<Vec<Vec<u8>>>,
}

impl ConfigFs for FakeTsm {
    fn exists(&self, path: &Path) -> bool {
        HostFs.exists(path)
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        HostFs.create_dir(path)?;
        std::fs::write(path.join("provider"), format!("{}\n", self.provider))?;
        std::fs::write(path.join("generation"), "0\n")
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        // configfs removes the attribute files with the directory.
        std::fs::remove_dir_all(path)
    }
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        HostFs.write(path, data)?;
        if path.file_name().is_some_and(|n| n == "inblob") {
            self.inblobs.lock().unwrap().push(data.to_vec());
            let dir = path.parent().unwrap();
            std::fs::write(dir.join("outblob"), &self.outblob)?;
            if let Some(aux) = &self.auxblob {
                std::fs::write(dir.join("auxblob"), aux)?;
            }
            std::fs::write(
                dir.join("generation"),
                format!("{}\n", 1 + self.interference),
            )?;
        }
        Ok(())
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        HostFs.read(path)
    }
}

fn tsm_root(dir: &tempfile::TempDir) -> PathBuf {
    let root = dir.path().join("sys/kernel/config/tsm/report");
    std::fs::create_dir_all(&root).unwrap();
    root
}

/// An SEV-SNP certificate table holding one VCEK.
fn cert_table(vcek: &[u8]) -> Vec<u8> {
    let mut table = vec![0u8; 48];
    table[..16].copy_from_slice(&guid_bytes(
        0x63da758d,
        0xe664,
        0x4564,
        [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
    ));
    table[16..20].copy_from_slice(&48u32.to_le_bytes());
    table[20..24].copy_from_slice(&(vcek.len() as u32).to_le_bytes());
    table.extend_from_slice(vcek);
    table
}

fn snp_vector() -> (Vec<u8>, Vec<u8>) {
    (
        read("sev-snp/trustee_report_milan.bin"),
        read("sev-snp/trustee_vcek_milan.der"),
    )
}

#[test]
fn configfs_tsm_sev_snp_report_with_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let root = tsm_root(&dir);
    let (report, vcek) = snp_vector();
    let fs = FakeTsm {
        provider: "sev_guest",
        outblob: report.clone(),
        auxblob: Some(cert_table(&vcek)),
        interference: 0,
        inblobs: Mutex::new(Vec::new()),
    };
    let provider = ConfigFsTsmProvider::new(fs, &root);
    assert_eq!(provider.name(), "configfs-tsm");
    let produced = provider.produce(&BINDING).expect("report");
    assert_eq!(
        produced,
        Produced::SevSnp {
            report: report.clone(),
            certs: vec![(SnpCertKind::Vcek, vcek.clone())],
        }
    );
    // The entry was removed after use.
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);

    let evidence = produced.into_evidence(None).expect("complete SNP evidence");
    let claims = verifier_for(Platform::SevSnp, &VerifierConfig::default())
        .unwrap()
        .verify(&evidence, COLLECTED)
        .expect("recorded report verifies");
    // The recorded report was made for another binding, and the verifier's claims say so.
    assert_eq!(claims.report_data, report[0x50..0x90]);
    assert_eq!(
        check_binding(&claims, &BINDING),
        Err(EvidenceError::BindingMismatch)
    );
}

#[test]
fn configfs_tsm_without_host_certificates_needs_a_vcek() {
    let dir = tempfile::tempdir().unwrap();
    let (report, _) = snp_vector();
    let fs = FakeTsm {
        provider: "sev_guest",
        outblob: report,
        auxblob: None,
        interference: 0,
        inblobs: Mutex::new(Vec::new()),
    };
    let provider = ConfigFsTsmProvider::new(fs, tsm_root(&dir));
    let produced = provider.produce(&BINDING).unwrap();
    assert!(matches!(&produced, Produced::SevSnp { certs, .. } if certs.is_empty()));
    // Without certificates from the host, the VCEK has to be supplied.
    assert!(produced.clone().into_evidence(None).is_none());
    assert!(produced.into_evidence(Some(&snp_vector().1)).is_some());
}

#[test]
fn configfs_tsm_inblob_is_the_binding() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FakeTsm {
        provider: "sev_guest",
        outblob: snp_vector().0,
        auxblob: None,
        interference: 0,
        inblobs: Mutex::new(Vec::new()),
    };
    let provider = ConfigFsTsmProvider::new(&fs, tsm_root(&dir));
    provider.produce(&BINDING).unwrap();
    provider.produce(&BINDING).unwrap();
    let inblobs = fs.inblobs.lock().unwrap();
    assert_eq!(inblobs.len(), 2, "one fresh entry per report");
    assert!(inblobs.iter().all(|b| b[..] == BINDING.report_data()[..]));
}

#[test]
fn configfs_tsm_detects_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let root = tsm_root(&dir);
    let fs = FakeTsm {
        provider: "sev_guest",
        outblob: snp_vector().0,
        auxblob: None,
        interference: 1,
        inblobs: Mutex::new(Vec::new()),
    };
    let err = ConfigFsTsmProvider::new(fs, &root)
        .produce(&BINDING)
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::Device(ref m) if m.contains("concurrently")),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
}

#[test]
fn configfs_tsm_tdx_quote_verifies_with_collateral() {
    let dir = tempfile::tempdir().unwrap();
    let quote = read("dcap/dcap-qvl/tdx_quote");
    let fs = FakeTsm {
        provider: "tdx_guest",
        outblob: quote.clone(),
        auxblob: None,
        interference: 0,
        inblobs: Mutex::new(Vec::new()),
    };
    let produced = ConfigFsTsmProvider::new(fs, tsm_root(&dir))
        .produce(&BINDING)
        .unwrap();
    assert_eq!(produced.platform(), Platform::Tdx);
    let Produced::TdxQuote(q) = produced.clone() else {
        panic!("not a TDX quote")
    };
    assert!(
        produced.into_evidence(None).is_none(),
        "a quote needs collateral"
    );
    let collateral =
        serde_json::from_slice(&read("dcap/dcap-qvl/tdx_quote_collateral.json")).unwrap();
    let evidence = DcapEvidence::new(&q, collateral).to_bytes();
    let claims = verifier_for(Platform::Tdx, &VerifierConfig::default())
        .unwrap()
        .verify(&evidence, 1_751_000_000)
        .expect("recorded quote verifies");
    assert_eq!(claims.report_data, quote[48 + 520..48 + 584]);
}

#[test]
fn configfs_tsm_unknown_provider_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fs = FakeTsm {
        provider: "arm_cca_guest",
        outblob: vec![1, 2, 3],
        auxblob: None,
        interference: 0,
        inblobs: Mutex::new(Vec::new()),
    };
    let err = ConfigFsTsmProvider::new(fs, tsm_root(&dir))
        .produce(&BINDING)
        .unwrap_err();
    assert!(matches!(err, ProviderError::Device(_)), "{err}");
}

/// `/dev/sev-guest` answering with a recorded report.
struct FakeSevGuest {
    status: u32,
    report: Vec<u8>,
    requests: Mutex<Vec<[u8; 96]>>,
}

impl SevGuestDevice for FakeSevGuest {
    fn get_report(&self, request: &[u8; 96]) -> io::Result<Vec<u8>> {
        self.requests.lock().unwrap().push(*request);
        let mut resp = vec![0u8; 4000];
        resp[..4].copy_from_slice(&self.status.to_le_bytes());
        resp[4..8].copy_from_slice(&(self.report.len() as u32).to_le_bytes());
        resp[32..32 + self.report.len()].copy_from_slice(&self.report);
        Ok(resp)
    }
}

#[test]
fn sev_guest_report_verifies_with_the_hosts_vcek() {
    let (report, vcek) = snp_vector();
    let dev = FakeSevGuest {
        status: 0,
        report: report.clone(),
        requests: Mutex::new(Vec::new()),
    };
    let provider = SevGuestProvider::new(dev, 2);
    let produced = provider.produce(&BINDING).unwrap();
    let evidence = produced.into_evidence(Some(&vcek)).unwrap();
    let claims = verifier_for(Platform::SevSnp, &VerifierConfig::default())
        .unwrap()
        .verify(&evidence, COLLECTED)
        .unwrap();
    assert_eq!(claims.measurement, report[0x90..0xC0]);
}

#[test]
fn sev_guest_request_carries_binding_and_vmpl() {
    let dev = FakeSevGuest {
        status: 0,
        report: snp_vector().0,
        requests: Mutex::new(Vec::new()),
    };
    SevGuestProvider::new(&dev, 3).produce(&BINDING).unwrap();
    let request = dev.requests.lock().unwrap()[0];
    assert_eq!(&request[..64], &BINDING.report_data()[..]);
    assert_eq!(&request[64..68], &3u32.to_le_bytes());
    assert!(request[68..].iter().all(|b| *b == 0));
}

#[test]
fn sev_guest_firmware_error_is_reported() {
    let dev = FakeSevGuest {
        status: 0x16,
        report: snp_vector().0,
        requests: Mutex::new(Vec::new()),
    };
    let err = SevGuestProvider::new(dev, 0).produce(&BINDING).unwrap_err();
    assert!(
        matches!(err, ProviderError::Device(ref m) if m.contains("0x16")),
        "{err}"
    );
}

/// `/dev/nsm` answering with a recorded attestation document.
struct FakeNsm {
    response: Vec<u8>,
    requests: Mutex<Vec<Vec<u8>>>,
}

impl NsmDevice for FakeNsm {
    fn request(&self, request: &[u8]) -> io::Result<Vec<u8>> {
        self.requests.lock().unwrap().push(request.to_vec());
        Ok(self.response.clone())
    }
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

#[test]
fn nsm_document_verifies() {
    let doc = read("nitro/nitro_attest_fixture_eu-central-1_20250106.cose");
    let response = cbor(&Value::Map(vec![(
        Value::Text("Attestation".into()),
        Value::Map(vec![(
            Value::Text("document".into()),
            Value::Bytes(doc.clone()),
        )]),
    )]));
    let dev = FakeNsm {
        response,
        requests: Mutex::new(Vec::new()),
    };
    let produced = NsmProvider::new(&dev).produce(&BINDING).unwrap();
    assert_eq!(produced, Produced::Nitro(doc));
    let claims = verifier_for(Platform::Nitro, &VerifierConfig::default())
        .unwrap()
        .verify(&produced.into_evidence(None).unwrap(), 1_736_182_800)
        .unwrap();
    assert_eq!(claims.measurement.len(), 48);

    // The request asks for an attestation with our report data as user data.
    let request = dev.requests.lock().unwrap()[0].clone();
    assert_eq!(request, nsm_attestation_request(&BINDING));
    let parsed: Value = ciborium::de::from_reader(&request[..]).unwrap();
    let Value::Map(top) = parsed else {
        panic!("request is a map")
    };
    assert_eq!(top[0].0, Value::Text("Attestation".into()));
    let Value::Map(body) = &top[0].1 else {
        panic!("body is a map")
    };
    assert!(body.contains(&(
        Value::Text("user_data".into()),
        Value::Bytes(BINDING.report_data().to_vec())
    )));
}

#[test]
fn nsm_error_is_reported() {
    let dev = FakeNsm {
        response: cbor(&Value::Map(vec![(
            Value::Text("Error".into()),
            Value::Text("InvalidArgument".into()),
        )])),
        requests: Mutex::new(Vec::new()),
    };
    let err = NsmProvider::new(dev).produce(&BINDING).unwrap_err();
    assert!(
        matches!(err, ProviderError::Device(ref m) if m.contains("InvalidArgument")),
        "{err}"
    );
    let dev = FakeNsm {
        response: vec![0xff, 0x00],
        requests: Mutex::new(Vec::new()),
    };
    assert!(NsmProvider::new(dev).produce(&BINDING).is_err());
}

#[test]
fn probing_picks_what_the_machine_offers() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(probe(dir.path()), Err(ProviderError::NoDevice(_))));

    std::fs::create_dir_all(dir.path().join("dev")).unwrap();
    std::fs::write(dir.path().join("dev/sev-guest"), b"").unwrap();
    assert_eq!(probe(dir.path()).unwrap().name(), "sev-guest");

    tsm_root(&dir);
    assert_eq!(probe(dir.path()).unwrap().name(), "configfs-tsm");

    std::fs::write(dir.path().join("dev/nsm"), b"").unwrap();
    assert_eq!(probe(dir.path()).unwrap().name(), "nsm");
}
