mod common;
use common::*;
use std::collections::BTreeMap;
use veracruz_policy::Policy;

#[test]
#[ignore]
fn manual_peer() {
    let dir = std::path::Path::new("/tmp/vc-manual");
    std::fs::create_dir_all(dir).unwrap();
    let ca = make_ca("Attestation CA");
    let alice = principal("alice");
    let listeners: Vec<_> = (0..6).map(|_| TestRuntimePeer::bind()).collect();
    let bytes = policy_bytes(&ca, &[&alice], &Trust::linux_allowed(), listeners[0].local_addr().unwrap());
    let policy = Policy::from_bytes(&bytes).unwrap();
    let key = runtime_key();
    let chain = issue(&ca, &key, &Claims { platform: veracruz_policy::Platform::Linux, measurement: LINUX_MEASUREMENT.to_vec(), ..Claims::good(policy.hash()) });
    std::fs::write(dir.join("policy.json"), &bytes).unwrap();
    std::fs::write(dir.join("alice.crt"), &alice.cert_pem).unwrap();
    std::fs::write(dir.join("alice.key"), &alice.key_pem).unwrap();
    let addrs: Vec<String> = listeners.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
    std::fs::write(dir.join("addrs"), addrs.join("\n")).unwrap();
    let files = BTreeMap::from([("/program/sum.wasm".to_string(), b"\0asm".to_vec())]);
    let peers: Vec<_> = listeners.into_iter().map(|l| TestRuntimePeer::start(l, &chain, &key, &policy, files.clone())).collect();
    std::fs::write(dir.join("ready"), "").unwrap();
    for p in peers { let log = p.finish(); eprintln!("{:?} {:?}", log.handshake, log.requests); }
}
