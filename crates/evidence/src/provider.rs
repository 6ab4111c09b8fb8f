//! Runtime side: producing evidence inside a TEE, with [`Binding::report_data`] as the report's
//! user data.
//!
//! Three device interfaces are supported, chosen at start by [`probe`]:
//! - Linux configfs-tsm (`/sys/kernel/config/tsm/report`), which serves SEV-SNP and TDX guests
//!   alike: the kernel returns an SNP report (plus the host's certificate table) or a TDX quote;
//! - `/dev/sev-guest` (`SNP_GET_REPORT`) for SNP guests on kernels without configfs-tsm;
//! - `/dev/nsm` for AWS Nitro Enclaves.
//!
//! Device access goes through the [`ConfigFs`], [`SevGuestDevice`] and [`NsmDevice`] traits so
//! that the providers' logic can be tested against recorded device responses.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ciborium::value::Value;

use crate::cose::{self, as_bytes, as_map, map_get, text_key};
use crate::snp::SnpEvidence;
use crate::{Binding, Platform};

/// Where the devices live on a real system.
pub const CONFIGFS_TSM_REPORT: &str = "/sys/kernel/config/tsm/report";
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";
pub const NSM_DEVICE: &str = "/dev/nsm";

/// Largest blob we accept from a device: an SNP certificate table or a TDX quote is a few KiB.
const MAX_BLOB_LEN: usize = 256 * 1024;

/// Why evidence could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("the device returned something unexpected: {0}")]
    Device(String),
    #[error("no TEE evidence interface found (looked for {0})")]
    NoDevice(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ProviderError {
    let what = what.into();
    move |source| ProviderError::Io { what, source }
}

/// What a provider produced. SEV-SNP and Nitro evidence is complete; a DCAP quote still needs
/// its collateral, which the (untrusted) host fetches from Intel PCS or a PCCS and wraps with
/// [`crate::dcap::DcapEvidence::new`]: collateral is signed by Intel, so the host cannot forge it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Produced {
    /// A SEV-SNP report and the certificates the host provided with it (possibly none).
    SevSnp {
        report: Vec<u8>,
        certs: Vec<(SnpCertKind, Vec<u8>)>,
    },
    /// A TDX quote.
    TdxQuote(Vec<u8>),
    /// A Nitro attestation document.
    Nitro(Vec<u8>),
}

/// Certificates in the SEV-SNP certificate table (GUIDs from the SEV-SNP firmware ABI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnpCertKind {
    Vcek,
    Vlek,
    Ask,
    Ark,
    Other([u8; 16]),
}

impl SnpCertKind {
    fn from_guid(guid: &[u8; 16]) -> Self {
        // GUIDs are stored in their mixed-endian binary form.
        const VCEK: [u8; 16] = guid_bytes(
            0x63da758d,
            0xe664,
            0x4564,
            [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
        );
        const VLEK: [u8; 16] = guid_bytes(
            0xa8074bc2,
            0xa25a,
            0x483e,
            [0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1],
        );
        const ASK: [u8; 16] = guid_bytes(
            0x4ab7b379,
            0xbbac,
            0x4fe4,
            [0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82],
        );
        const ARK: [u8; 16] = guid_bytes(
            0xc0b406a4,
            0xa803,
            0x4952,
            [0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae],
        );
        match *guid {
            VCEK => Self::Vcek,
            VLEK => Self::Vlek,
            ASK => Self::Ask,
            ARK => Self::Ark,
            other => Self::Other(other),
        }
    }
}

/// A GUID `d1-d2-d3-d4` in the little-endian layout the firmware uses.
pub const fn guid_bytes(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5],
        d4[6], d4[7],
    ]
}

/// Parses the SEV-SNP certificate table: 24-byte entries (GUID, offset, length) ended by an
/// all-zero entry, with offsets relative to the table's start.
pub fn parse_cert_table(table: &[u8]) -> Result<Vec<(SnpCertKind, Vec<u8>)>, ProviderError> {
    let bad = |m: String| ProviderError::Device(format!("SEV-SNP certificate table: {m}"));
    let mut out = Vec::new();
    let mut at = 0usize;
    loop {
        let entry = table
            .get(at..at + 24)
            .ok_or_else(|| bad("ends without a terminating entry".into()))?;
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&entry[..16]);
        if guid == [0u8; 16] {
            return Ok(out);
        }
        let offset = u32::from_le_bytes([entry[16], entry[17], entry[18], entry[19]]) as usize;
        let len = u32::from_le_bytes([entry[20], entry[21], entry[22], entry[23]]) as usize;
        let cert = offset
            .checked_add(len)
            .and_then(|end| table.get(offset..end))
            .ok_or_else(|| bad(format!("entry {} points outside the table", out.len())))?;
        out.push((SnpCertKind::from_guid(&guid), cert.to_vec()));
        at += 24;
        if out.len() > 16 {
            return Err(bad("more than 16 entries".into()));
        }
    }
}

impl Produced {
    pub fn platform(&self) -> Platform {
        match self {
            Produced::SevSnp { .. } => Platform::SevSnp,
            Produced::TdxQuote(_) => Platform::Tdx,
            Produced::Nitro(_) => Platform::Nitro,
        }
    }

    /// The evidence bytes a verifier takes, where the device gave everything needed. For
    /// SEV-SNP without a VCEK/VLEK from the host, `endorsement_key` (DER, fetched from AMD KDS
    /// by the host) fills the gap; a TDX quote needs collateral and returns `None`.
    pub fn into_evidence(self, endorsement_key: Option<&[u8]>) -> Option<Vec<u8>> {
        match self {
            Produced::SevSnp { report, certs } => {
                let key = certs
                    .iter()
                    .find(|(k, _)| matches!(k, SnpCertKind::Vcek | SnpCertKind::Vlek))
                    .map(|(_, c)| c.as_slice())
                    .or(endorsement_key)?;
                Some(SnpEvidence::new(&report, key, None).to_bytes())
            }
            Produced::TdxQuote(_) => None,
            Produced::Nitro(doc) => Some(doc),
        }
    }
}

/// Produces evidence for one binding.
pub trait EvidenceProvider: Send + Sync {
    /// A short name for logs: `configfs-tsm`, `sev-guest`, `nsm`.
    fn name(&self) -> &'static str;
    fn produce(&self, binding: &Binding) -> Result<Produced, ProviderError>;
}

/// The file operations configfs-tsm needs.
pub trait ConfigFs: Send + Sync {
    fn exists(&self, path: &Path) -> bool;
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
}

impl<T: ConfigFs + ?Sized> ConfigFs for &T {
    fn exists(&self, path: &Path) -> bool {
        (**self).exists(path)
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        (**self).create_dir(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        (**self).remove_dir(path)
    }
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        (**self).write(path, data)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        (**self).read(path)
    }
}

/// The real file system.
pub struct HostFs;

impl ConfigFs for HostFs {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(path)
    }
    fn write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        std::fs::write(path, data)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut buf = Vec::new();
        File::open(path)?
            .take(MAX_BLOB_LEN as u64 + 1)
            .read_to_end(&mut buf)?;
        if buf.len() > MAX_BLOB_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("more than {MAX_BLOB_LEN} bytes"),
            ));
        }
        Ok(buf)
    }
}

/// SEV-SNP and TDX reports through configfs-tsm.
pub struct ConfigFsTsmProvider<F: ConfigFs> {
    fs: F,
    root: PathBuf,
}

static ENTRY_COUNTER: AtomicU64 = AtomicU64::new(0);

impl<F: ConfigFs> ConfigFsTsmProvider<F> {
    pub fn new(fs: F, root: impl Into<PathBuf>) -> Self {
        Self {
            fs,
            root: root.into(),
        }
    }

    fn read_text(&self, path: &Path) -> Result<String, ProviderError> {
        let raw = self
            .fs
            .read(path)
            .map_err(io_err(format!("reading {}", path.display())))?;
        String::from_utf8(raw)
            .map(|s| s.trim().to_owned())
            .map_err(|_| ProviderError::Device(format!("{} is not text", path.display())))
    }

    fn produce_in(&self, entry: &Path, binding: &Binding) -> Result<Produced, ProviderError> {
        let generation_before = self.read_text(&entry.join("generation"))?;
        self.fs
            .write(&entry.join("inblob"), &binding.report_data())
            .map_err(io_err("writing configfs-tsm inblob"))?;
        let outblob = self
            .fs
            .read(&entry.join("outblob"))
            .map_err(io_err("reading configfs-tsm outblob (report generation)"))?;
        let provider = self.read_text(&entry.join("provider"))?;
        let aux_path = entry.join("auxblob");
        let auxblob = if self.fs.exists(&aux_path) {
            self.fs
                .read(&aux_path)
                .map_err(io_err("reading configfs-tsm auxblob"))?
        } else {
            Vec::new()
        };
        // The kernel bumps `generation` on every write; more than our one write means another
        // process wrote to this entry, and the report may carry its inblob instead of ours.
        let generation_after = self.read_text(&entry.join("generation"))?;
        let before: u64 = generation_before.parse().map_err(|_| {
            ProviderError::Device(format!("configfs-tsm generation `{generation_before}`"))
        })?;
        let after: u64 = generation_after.parse().map_err(|_| {
            ProviderError::Device(format!("configfs-tsm generation `{generation_after}`"))
        })?;
        if after != before + 1 {
            return Err(ProviderError::Device(format!(
                "configfs-tsm entry was written concurrently (generation {before} -> {after})"
            )));
        }
        match provider.as_str() {
            "sev_guest" => {
                let report = outblob;
                if report.len() != crate::snp::REPORT_LEN {
                    return Err(ProviderError::Device(format!(
                        "SEV-SNP report is {} bytes",
                        report.len()
                    )));
                }
                let certs = if auxblob.is_empty() {
                    Vec::new()
                } else {
                    parse_cert_table(&auxblob)?
                };
                Ok(Produced::SevSnp { report, certs })
            }
            "tdx_guest" => Ok(Produced::TdxQuote(outblob)),
            other => Err(ProviderError::Device(format!(
                "configfs-tsm provider `{other}` is not supported"
            ))),
        }
    }
}

impl<F: ConfigFs> EvidenceProvider for ConfigFsTsmProvider<F> {
    fn name(&self) -> &'static str {
        "configfs-tsm"
    }

    fn produce(&self, binding: &Binding) -> Result<Produced, ProviderError> {
        let n = ENTRY_COUNTER.fetch_add(1, Ordering::Relaxed);
        let entry = self
            .root
            .join(format!("veracruz-{}-{n}", std::process::id()));
        self.fs
            .create_dir(&entry)
            .map_err(io_err(format!("creating {}", entry.display())))?;
        let result = self.produce_in(&entry, binding);
        if let Err(e) = self.fs.remove_dir(&entry) {
            tracing::warn!(entry = %entry.display(), error = %e, "could not remove configfs-tsm entry");
        }
        result
    }
}

/// `/dev/sev-guest`'s `SNP_GET_REPORT`: takes the 96-byte `snp_report_req` and returns the
/// 4000-byte `snp_report_resp`.
pub trait SevGuestDevice: Send + Sync {
    fn get_report(&self, request: &[u8; 96]) -> io::Result<Vec<u8>>;
}

/// AWS Nitro Secure Module: one CBOR request in, one CBOR response out.
pub trait NsmDevice: Send + Sync {
    fn request(&self, request: &[u8]) -> io::Result<Vec<u8>>;
}

impl<T: SevGuestDevice + ?Sized> SevGuestDevice for &T {
    fn get_report(&self, request: &[u8; 96]) -> io::Result<Vec<u8>> {
        (**self).get_report(request)
    }
}

impl<T: NsmDevice + ?Sized> NsmDevice for &T {
    fn request(&self, request: &[u8]) -> io::Result<Vec<u8>> {
        (**self).request(request)
    }
}

/// SEV-SNP reports through `/dev/sev-guest`. No certificates come back this way: the host
/// supplies the VCEK (see [`Produced::into_evidence`]).
pub struct SevGuestProvider<D: SevGuestDevice> {
    device: D,
    vmpl: u32,
}

impl<D: SevGuestDevice> SevGuestProvider<D> {
    /// `vmpl`: the privilege level to report at (0 unless running under an SVSM).
    pub fn new(device: D, vmpl: u32) -> Self {
        Self { device, vmpl }
    }
}

impl<D: SevGuestDevice> EvidenceProvider for SevGuestProvider<D> {
    fn name(&self) -> &'static str {
        "sev-guest"
    }

    fn produce(&self, binding: &Binding) -> Result<Produced, ProviderError> {
        let mut request = [0u8; 96];
        request[..64].copy_from_slice(&binding.report_data());
        request[64..68].copy_from_slice(&self.vmpl.to_le_bytes());
        let response = self
            .device
            .get_report(&request)
            .map_err(io_err("SNP_GET_REPORT on /dev/sev-guest"))?;
        let header = response
            .get(..32)
            .ok_or_else(|| ProviderError::Device("SNP report response is too short".into()))?;
        let status = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if status != 0 {
            return Err(ProviderError::Device(format!(
                "SEV firmware refused the report request with status {status:#x}"
            )));
        }
        if size != crate::snp::REPORT_LEN {
            return Err(ProviderError::Device(format!("SNP report size is {size}")));
        }
        let report = response
            .get(32..32 + size)
            .ok_or_else(|| ProviderError::Device("SNP report response is truncated".into()))?
            .to_vec();
        Ok(Produced::SevSnp {
            report,
            certs: Vec::new(),
        })
    }
}

/// Nitro attestation documents through the NSM.
pub struct NsmProvider<D: NsmDevice> {
    device: D,
}

impl<D: NsmDevice> NsmProvider<D> {
    pub fn new(device: D) -> Self {
        Self { device }
    }
}

/// Encodes the NSM `Attestation` request with our report data as `user_data`.
pub fn nsm_attestation_request(binding: &Binding) -> Vec<u8> {
    let body = Value::Map(vec![
        (
            text_key("user_data"),
            Value::Bytes(binding.report_data().to_vec()),
        ),
        (text_key("nonce"), Value::Bytes(binding.nonce.to_vec())),
        (text_key("public_key"), Value::Null),
    ]);
    let request = Value::Map(vec![(text_key("Attestation"), body)]);
    let mut out = Vec::new();
    // Writing a small in-memory value into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&request, &mut out);
    out
}

/// Extracts the document from an NSM response.
pub fn parse_nsm_response(response: &[u8]) -> Result<Vec<u8>, ProviderError> {
    let dev = |e: crate::EvidenceError| ProviderError::Device(format!("NSM response: {e}"));
    let value = cose::decode(response, MAX_BLOB_LEN, "NSM response").map_err(dev)?;
    let map = as_map(&value, "NSM response").map_err(dev)?;
    if let Some(err) = map_get(map, &text_key("Error")) {
        return Err(ProviderError::Device(format!("NSM error {err:?}")));
    }
    let att = map_get(map, &text_key("Attestation"))
        .ok_or_else(|| ProviderError::Device("NSM response is not an attestation".into()))?;
    let att = as_map(att, "NSM attestation response").map_err(dev)?;
    let doc = map_get(att, &text_key("document"))
        .ok_or_else(|| ProviderError::Device("NSM response has no document".into()))?;
    Ok(as_bytes(doc, "NSM document").map_err(dev)?.to_vec())
}

impl<D: NsmDevice> EvidenceProvider for NsmProvider<D> {
    fn name(&self) -> &'static str {
        "nsm"
    }

    fn produce(&self, binding: &Binding) -> Result<Produced, ProviderError> {
        let response = self
            .device
            .request(&nsm_attestation_request(binding))
            .map_err(io_err("NSM request on /dev/nsm"))?;
        Ok(Produced::Nitro(parse_nsm_response(&response)?))
    }
}

/// Issues a read-write ioctl whose argument is `arg`.
///
/// # Safety
/// `arg` must be the exact structure the driver expects for `request`, and every pointer inside
/// it must point to memory that is valid (and writable where the driver writes) for the call.
unsafe fn ioctl_rw<T>(file: &File, request: libc::c_ulong, arg: &mut T) -> io::Result<()> {
    // SAFETY: the caller guarantees `arg` matches `request`; `file` keeps the fd open.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), request as _, arg as *mut T) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `struct snp_guest_request_ioctl` from `<linux/sev-guest.h>`.
#[repr(C)]
struct SnpGuestRequest {
    msg_version: u8,
    req_data: u64,
    resp_data: u64,
    exitinfo2: u64,
}

/// `SNP_GET_REPORT = _IOWR('S', 0x0, struct snp_guest_request_ioctl)`.
const SNP_GET_REPORT: libc::c_ulong = 0xC020_5300;

/// The real `/dev/sev-guest`.
pub struct SevGuestDev {
    file: File,
}

impl SevGuestDev {
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            file: OpenOptions::new().read(true).write(true).open(path)?,
        })
    }
}

impl SevGuestDevice for SevGuestDev {
    fn get_report(&self, request: &[u8; 96]) -> io::Result<Vec<u8>> {
        let mut req = *request;
        let mut resp = vec![0u8; 4000];
        let mut arg = SnpGuestRequest {
            msg_version: 1,
            req_data: req.as_mut_ptr() as u64,
            resp_data: resp.as_mut_ptr() as u64,
            exitinfo2: 0,
        };
        // SAFETY: `arg` is the driver's structure for SNP_GET_REPORT; `req` (96 bytes, the size
        // of `snp_report_req`) and `resp` (4000 bytes, `snp_report_resp`) outlive the call.
        unsafe { ioctl_rw(&self.file, SNP_GET_REPORT, &mut arg) }.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{e} (firmware/VMM error {:#x})", arg.exitinfo2),
            )
        })?;
        Ok(resp)
    }
}

/// `struct nsm_message` from the Nitro driver: request and response iovecs.
#[repr(C)]
struct NsmMessage {
    request: libc::iovec,
    response: libc::iovec,
}

/// `NSM_IOCTL_REQUEST = _IOWR(0x0A, 0, struct nsm_message)`.
const NSM_IOCTL_REQUEST: libc::c_ulong = 0xC020_0A00;
/// The NSM driver's response limit.
const NSM_RESPONSE_MAX: usize = 0x3000;

/// The real `/dev/nsm`.
pub struct NsmDev {
    file: File,
}

impl NsmDev {
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            file: OpenOptions::new().read(true).write(true).open(path)?,
        })
    }
}

impl NsmDevice for NsmDev {
    fn request(&self, request: &[u8]) -> io::Result<Vec<u8>> {
        let mut req = request.to_vec();
        let mut resp = vec![0u8; NSM_RESPONSE_MAX];
        let mut msg = NsmMessage {
            request: libc::iovec {
                iov_base: req.as_mut_ptr().cast(),
                iov_len: req.len(),
            },
            response: libc::iovec {
                iov_base: resp.as_mut_ptr().cast(),
                iov_len: resp.len(),
            },
        };
        // SAFETY: `msg` is the driver's structure for NSM_IOCTL_REQUEST; both iovecs point into
        // `req` and `resp`, which outlive the call, with their true lengths.
        unsafe { ioctl_rw(&self.file, NSM_IOCTL_REQUEST, &mut msg) }?;
        let len = msg.response.iov_len.min(resp.len());
        resp.truncate(len);
        Ok(resp)
    }
}

/// Picks the evidence interface this machine offers: `/dev/nsm`, then configfs-tsm, then
/// `/dev/sev-guest`. `root` prefixes every path (`/` on a real system).
pub fn probe(root: &Path) -> Result<Box<dyn EvidenceProvider>, ProviderError> {
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    let nsm = at(NSM_DEVICE);
    if nsm.exists() {
        let dev = NsmDev::open(&nsm).map_err(io_err(format!("opening {}", nsm.display())))?;
        tracing::info!("evidence provider: Nitro NSM");
        return Ok(Box::new(NsmProvider::new(dev)));
    }
    let tsm = at(CONFIGFS_TSM_REPORT);
    if tsm.is_dir() {
        tracing::info!("evidence provider: configfs-tsm");
        return Ok(Box::new(ConfigFsTsmProvider::new(HostFs, tsm)));
    }
    let sev = at(SEV_GUEST_DEVICE);
    if sev.exists() {
        let dev = SevGuestDev::open(&sev).map_err(io_err(format!("opening {}", sev.display())))?;
        tracing::info!("evidence provider: /dev/sev-guest");
        return Ok(Box::new(SevGuestProvider::new(dev, 0)));
    }
    Err(ProviderError::NoDevice(format!(
        "{}, {} and {}",
        nsm.display(),
        tsm.display(),
        sev.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        // _IOWR(type, nr, size) = (3 << 30) | (size << 16) | (type << 8) | nr
        let iowr =
            |ty: u64, nr: u64, size: usize| (3u64 << 30) | ((size as u64) << 16) | (ty << 8) | nr;
        assert_eq!(
            u64::from(SNP_GET_REPORT as u32),
            iowr(b'S' as u64, 0, std::mem::size_of::<SnpGuestRequest>())
        );
        assert_eq!(
            u64::from(NSM_IOCTL_REQUEST as u32),
            iowr(0x0A, 0, std::mem::size_of::<NsmMessage>())
        );
    }

    #[test]
    fn cert_table_parses_and_rejects_out_of_bounds() {
        let mut table = vec![0u8; 72];
        table[..16].copy_from_slice(&guid_bytes(
            0x63da758d,
            0xe664,
            0x4564,
            [0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd],
        ));
        table[16..20].copy_from_slice(&48u32.to_le_bytes());
        table[20..24].copy_from_slice(&4u32.to_le_bytes());
        table[48..52].copy_from_slice(b"cert");
        let parsed = parse_cert_table(&table).unwrap();
        assert_eq!(parsed, vec![(SnpCertKind::Vcek, b"cert".to_vec())]);
        table[20..24].copy_from_slice(&4000u32.to_le_bytes());
        assert!(parse_cert_table(&table).is_err());
        assert!(parse_cert_table(&table[..10]).is_err());
    }
}
