//! Password hashing: argon2id (m = 7 MiB, t = 5, p = 1), run off the async
//! threads. Unknown emails are verified against a dummy hash so that they cost
//! the same time as a wrong password. A [`Hasher`] bounds how many hashes run
//! at once (memory: 7 MiB each), so a wave of logins queues briefly and is
//! then refused instead of exhausting memory and the blocking threads.

use argon2::password_hash::{
    rand_core::OsRng, Output, ParamsString, PasswordHash, PasswordHasher, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

fn argon2() -> Argon2<'static> {
    // OWASP's m = 7 MiB, t = 5 equivalent of m = 19 MiB, t = 2: the same
    // work for an attacker, a third of the memory per login for us.
    let kib = (crate::config::HASH_MEMORY_MIB * 1024) as u32;
    let params = Params::new(kib, 5, 1, None).expect("valid argon2 params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (blocking: call through `hash_async` from async code).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

/// [`hash`] with the argon2 memory in `memory` (see [`verify_in`]).
pub fn hash_in(password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
    let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("hashing password: {e}");
    let a = argon2();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| err(&e))?;
    let blocks = a.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    a.hash_password_into_with_memory(
        password.as_bytes(),
        salt_bytes,
        &mut out,
        &mut memory[..blocks],
    )
    .map_err(|e| err(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(a.params()).map_err(|e| err(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(phc.to_string())
}

/// Verifies a password against a PHC string; a malformed hash is a mismatch.
pub fn verify(password: &str, phc: &str) -> bool {
    verify_in(password, phc, &mut Vec::new())
}

/// [`verify`] with the argon2 memory (7 MiB) in `memory`, grown as needed and
/// left to the caller, so that the hashes of a wave of logins can share their
/// blocks (see [`Spare`]).
pub fn verify_in(password: &str, phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks]);
    hashed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("dxdesk-dummy-password-for-timing").expect("dummy hash"))
}

pub async fn hash_async(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash(&password)).await?
}

/// Verifies against `phc`, or against the dummy hash when there is no user, so
/// both paths take the same time.
pub async fn verify_async(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || verify_or_dummy(&password, phc.as_deref(), &mut Vec::new()))
        .await
        .unwrap_or(false)
}

/// Logins admitted at once per hashing slot (see `Hasher::admit`).
pub const LOGINS_PER_SLOT: usize = 4;

type Job = Box<dyn FnOnce(&Spare) + Send>;

/// The argon2 blocks not in use right now, shared by the hashing threads,
/// kept only while some hash runs: a wave of logins reuses the blocks of the
/// hashes before it, and the last hash of a wave frees them all, so a quiet
/// server holds none (jemalloc hands a freed block's pages back at once: see
/// `oversize_threshold` in `.cargo/config.toml`).
#[derive(Default)]
struct Spare(std::sync::Mutex<SpareBlocks>);

#[derive(Default)]
struct SpareBlocks {
    free: Vec<Vec<Block>>,
    in_use: usize,
}

impl Spare {
    fn take(&self) -> Vec<Block> {
        let Ok(mut s) = self.0.lock() else {
            return Vec::new();
        };
        s.in_use += 1;
        s.free.pop().unwrap_or_default()
    }
    fn give(&self, memory: Vec<Block>) {
        let Ok(mut s) = self.0.lock() else { return };
        s.in_use = s.in_use.saturating_sub(1);
        if s.in_use == 0 {
            // Dropped outside the lock.
            let kept = std::mem::take(&mut s.free);
            drop(s);
            drop((kept, memory));
        } else {
            s.free.push(memory);
        }
    }
    fn len(&self) -> usize {
        self.0.lock().map(|s| s.free.len()).unwrap_or(0)
    }
}

/// The gate in front of password hashing: at most `slots` hashes at once
/// (sized by `config::hash_concurrency`), callers queue in order for at most
/// `wait`, then get `RATE_LIMITED`. A slot is held until its hash finishes,
/// even when the request that asked for it has gone.
///
/// Hashes run on `slots` dedicated threads rather than tokio's blocking pool,
/// and their 7 MiB blocks go on one shared stack that every hashing thread
/// takes from and gives back to while a wave of logins lasts (see [`Spare`]),
/// so overlapping logins do not fault in 7 MiB afresh each. The resident
/// memory is 7 MiB times the most hashes that ran at once during a wave, and
/// none between waves.
pub struct Hasher {
    /// Logins in progress (their database work included): a few per slot, so
    /// that a wave of logins queues here instead of on the database pool that
    /// the rest of the API needs.
    admission: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    size: usize,
    wait: Duration,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    spare: Arc<Spare>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("size", &self.size)
            .field("wait", &self.wait)
            .finish()
    }
}

impl Hasher {
    pub fn new(slots: usize, wait: Duration) -> Self {
        let size = slots.max(1);
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let spare: Arc<Spare> = Arc::default();
        for i in 0..size {
            let rx = rx.clone();
            let spare = spare.clone();
            std::thread::Builder::new()
                .name(format!("dxdesk-hash-{i}"))
                .spawn(move || loop {
                    // Ends when the hasher (the sender) is dropped.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    job(&spare);
                })
                .expect("spawning a hashing thread");
        }
        Self {
            admission: Arc::new(Semaphore::new(size * LOGINS_PER_SLOT)),
            slots: Arc::new(Semaphore::new(size)),
            size,
            wait,
            jobs: std::sync::Mutex::new(tx),
            spare,
        }
    }

    /// How many argon2 blocks the hasher keeps for the next hashes.
    pub fn kept_blocks(&self) -> usize {
        self.spare.len()
    }

    /// Runs `f` on a hashing thread, holding `permit` until it is done.
    async fn run<T: Send + 'static>(
        &self,
        permit: OwnedSemaphorePermit,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, crate::error::AppError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |spare| {
            let _permit = permit;
            let mut memory = spare.take();
            let out = f(&mut memory);
            // Given back before the answer, so the next hash finds it.
            spare.give(memory);
            let _ = tx.send(out);
        });
        self.jobs
            .lock()
            .map_err(|_| crate::error::AppError::internal(anyhow::anyhow!("hasher lock poisoned")))?
            .send(job)
            .map_err(|_| {
                crate::error::AppError::internal(anyhow::anyhow!("hashing threads gone"))
            })?;
        rx.await
            .map_err(|_| crate::error::AppError::internal(anyhow::anyhow!("hashing job lost")))
    }

    /// How many hashes may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Admits one login (held for the whole login), waiting at most the queue wait.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, crate::error::AppError> {
        self.wait_for(&self.admission).await
    }

    /// Waits (at most the queue wait) for a hashing slot.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, crate::error::AppError> {
        self.wait_for(&self.slots).await
    }

    async fn wait_for(
        &self,
        sem: &Arc<Semaphore>,
    ) -> Result<OwnedSemaphorePermit, crate::error::AppError> {
        match tokio::time::timeout(self.wait, sem.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                tracing::warn!(
                    slots = self.size,
                    "password hashing is saturated: refusing a login"
                );
                Err(crate::error::AppError::RateLimited {
                    retry_after: self.wait.as_secs().max(1),
                })
            }
        }
    }

    /// Occupies a slot until the permit is dropped (tests and tools: to see
    /// what a saturated hasher answers).
    pub async fn occupy(&self) -> OwnedSemaphorePermit {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("the hashing semaphore is never closed")
    }

    /// [`verify_async`] through the gate.
    pub async fn verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, crate::error::AppError> {
        let permit = self.slot().await?;
        self.run(permit, move |memory| {
            verify_or_dummy(&password, phc.as_deref(), memory)
        })
        .await
    }

    /// [`hash_async`] through the gate.
    pub async fn hash(&self, password: String) -> Result<String, crate::error::AppError> {
        let permit = self.slot().await?;
        self.run(permit, move |memory| hash_in(&password, memory))
            .await?
            .map_err(crate::error::AppError::internal)
    }
}

fn verify_or_dummy(password: &str, phc: Option<&str>, memory: &mut Vec<Block>) -> bool {
    match phc {
        Some(phc) => verify_in(password, phc, memory),
        None => {
            let _ = verify_in(password, dummy_hash(), memory);
            false
        }
    }
}

/// Computes the dummy hash ahead of the first login.
pub fn warm_up() {
    let _ = dummy_hash();
}

/// A password a new account may have.
pub fn check_strength(password: &str) -> Result<(), crate::error::AppError> {
    crate::domain::password_policy::check(password)
        .map_err(|r| crate::error::AppError::bad_input(Some("password"), r.ja(), r.en()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PHC hash of `password` made by argon2 itself with other parameters.
    fn hash_with(
        algorithm: Algorithm,
        version: Version,
        kib: u32,
        t: u32,
        password: &str,
    ) -> String {
        Argon2::new(algorithm, version, Params::new(kib, t, 1, None).unwrap())
            .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_quiet_hasher_keeps_no_block() {
        let hasher = Hasher::new(2, Duration::from_secs(30));
        assert_eq!(hasher.kept_blocks(), 0);
        let phc = hasher.hash("first-password-1".into()).await.unwrap();
        assert_eq!(hasher.kept_blocks(), 0);
        for _ in 0..3 {
            assert!(hasher
                .verify("first-password-1".into(), Some(phc.clone()))
                .await
                .unwrap());
            assert_eq!(hasher.kept_blocks(), 0, "freed after each lone hash");
        }
        let (a, b) = tokio::join!(
            hasher.verify("first-password-1".into(), Some(phc.clone())),
            hasher.verify("wrong-password-2".into(), Some(phc.clone())),
        );
        assert!(a.unwrap() && !b.unwrap());
        assert_eq!(hasher.kept_blocks(), 0, "freed after the wave");
    }

    #[test]
    fn blocks_are_reused_while_a_wave_lasts_and_freed_after_it() {
        let spare = Spare::default();
        let mut a = spare.take();
        a.resize(8, Block::default());
        let b = spare.take();
        let a_at = a.as_ptr();
        spare.give(a);
        assert_eq!(spare.len(), 1, "kept: another hash still runs");
        let c = spare.take();
        assert_eq!(c.as_ptr(), a_at, "the next hash reuses the block");
        assert_eq!(c.len(), 8);
        spare.give(c);
        assert_eq!(spare.len(), 1);
        spare.give(b);
        assert_eq!(spare.len(), 0, "the wave is over: nothing kept");
        assert!(spare.take().is_empty(), "a new wave starts afresh");
    }

    #[test]
    fn hash_verifies_and_uses_argon2id_with_our_params() {
        let h = hash("demo-pass-2024").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert!(verify("demo-pass-2024", &h));
        assert!(!verify("demo-pass-2025", &h));
        assert!(!verify("demo-pass-2024", "not a hash"));
    }

    #[test]
    fn reused_memory_verifies_like_argon2_itself() {
        use argon2::password_hash::PasswordVerifier;
        let a = hash("first-password-1").unwrap();
        let b = hash("second-password-2").unwrap();
        let mut memory = Vec::new();
        for (pw, phc) in [
            ("first-password-1", &a),
            ("second-password-2", &b),
            ("first-password-1", &b),
            ("wrong", &a),
        ] {
            let theirs = argon2()
                .verify_password(pw.as_bytes(), &PasswordHash::new(phc).unwrap())
                .is_ok();
            assert_eq!(verify_in(pw, phc, &mut memory), theirs, "{pw}");
        }
        assert_eq!(memory.len(), 7 * 1024);
        let c = hash_in("third-password-3", &mut memory).unwrap();
        assert!(c.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{c}");
        assert!(verify("third-password-3", &c));
        assert!(!verify("third-password-4", &c));
        // Other parameters (an older or stronger hash) still verify: the
        // m = 19 MiB, t = 2 hashes of earlier releases among them.
        let earlier = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            19 * 1024,
            2,
            "earlier-one-1",
        );
        assert!(verify_in("earlier-one-1", &earlier, &mut memory));
        assert!(!verify_in("earlier-one-2", &earlier, &mut memory));
        let strong = hash_with(
            Algorithm::Argon2id,
            Version::V0x13,
            32 * 1024,
            3,
            "strong-one-3",
        );
        assert!(verify_in("strong-one-3", &strong, &mut memory));
        assert!(!verify_in("strong-one-4", &strong, &mut memory));
        let v10 = hash_with(Algorithm::Argon2i, Version::V0x10, 1024, 1, "old-one-5");
        assert!(verify_in("old-one-5", &v10, &mut memory));
        assert!(!verify_in("old-one-6", &v10, &mut memory));
        assert!(!verify_in(
            "x",
            "$argon2id$v=19$m=19456,t=2,p=1$bad",
            &mut memory
        ));
    }
}
