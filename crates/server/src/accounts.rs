//! Accounts: argon2id password hashing and loading a district's people as
//! accounts (used by `gridpatrol init --demo` and by tests).

use std::sync::Mutex;

use argon2::password_hash::phc::Output;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use gridpatrol_domain::district::District;
use gridpatrol_domain::roles::Role;
use gridpatrol_server_storage::{ServerStore, SquadRecord, StoreError, User};

/// Argon2id cost parameters for new hashes. Verification always uses the
/// parameters stored in the PHC string, so hashes made with either setting
/// verify the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
}

impl HashCost {
    /// argon2 crate defaults (19 MiB, 2 passes): for real accounts.
    pub const STANDARD: HashCost = HashCost {
        m_kib: 19 * 1024,
        t: 2,
    };
    /// Lighter cost for the 1,548 demo accounts (8 MiB, 1 pass), so
    /// `init --demo` finishes in seconds; demo passwords are public anyway.
    pub const DEMO: HashCost = HashCost {
        m_kib: 8 * 1024,
        t: 1,
    };
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Argon2 failed.
    #[error("password hashing: {0}")]
    Hash(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Hashes a password to an argon2id PHC string with a random salt.
pub fn hash_password(password: &str, cost: HashCost) -> Result<String, AccountError> {
    let params =
        Params::new(cost.m_kib, cost.t, 1, None).map_err(|e| AccountError::Hash(e.to_string()))?;
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    a.hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Checks a password against a PHC string (false on any mismatch or bad hash).
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// The argon2 parameters of a PHC string as `algorithm$v=version$params`
/// (e.g. `argon2id$v=19$m=19456,t=2,p=1`): what decides the cost of a check.
pub fn hash_params(phc: &str) -> Option<String> {
    let h = PasswordHash::new(phc).ok()?;
    Some(format!(
        "{}$v={}${}",
        h.algorithm,
        h.version.unwrap_or(0x13),
        h.params
    ))
}

/// A hash of an unguessable password with exactly the algorithm, version and
/// parameters of `like` (a stored account's hash) and a fresh salt: checking a
/// password for an unknown account against it costs what checking a real
/// account costs. `None` if `like` is not an argon2 PHC string.
pub fn dummy_hash_like(like: &str) -> Option<String> {
    let h = PasswordHash::new(like).ok()?;
    let algorithm = Algorithm::try_from(h.algorithm.as_str()).ok()?;
    let version = h
        .version
        .map(Version::try_from)
        .transpose()
        .ok()?
        .unwrap_or_default();
    let params = Params::try_from(&h).ok()?;
    let secret: [u8; 32] = rand::random();
    Argon2::new(algorithm, version, params)
        .hash_password(&secret)
        .ok()
        .map(|h| h.to_string())
}

/// Checks passwords with a pool of argon2 working memory instead of a fresh
/// allocation per check. Each check needs `m_cost` KiB; allocated per call
/// and freed on whichever blocking thread ran it, glibc kept those pages in
/// per-thread arenas and a login storm left the server at ~1 GB. The pool
/// holds at most one buffer per concurrent check (the caller bounds
/// concurrency), each as large as the largest cost seen, reused forever.
#[derive(Debug)]
pub struct PasswordChecker {
    pool: Mutex<Vec<Vec<Block>>>,
    max_m_kib: u32,
}

impl PasswordChecker {
    /// Largest memory cost accepted in a stored hash (KiB); hashes asking for
    /// more are treated as not matching rather than allocated.
    pub const DEFAULT_MAX_M_KIB: u32 = 256 * 1024;

    /// An empty pool accepting costs up to `max_m_kib` KiB.
    pub fn new(max_m_kib: u32) -> PasswordChecker {
        PasswordChecker {
            pool: Mutex::new(Vec::new()),
            max_m_kib,
        }
    }

    /// Buffers in the pool and their total size in KiB (for tests and metrics).
    pub fn pooled(&self) -> (usize, usize) {
        let pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        (pool.len(), pool.iter().map(Vec::len).sum())
    }

    /// Like [`verify_password`], using pooled memory.
    pub fn verify(&self, password: &str, phc: &str) -> bool {
        let Ok(h) = PasswordHash::new(phc) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(h.algorithm.as_str()) else {
            return false;
        };
        let version = match h.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&h) else {
            return false;
        };
        if params.m_cost() > self.max_m_kib || expected.len() > 64 {
            return false;
        }
        let blocks = params.block_count();
        let mut mem = self
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .unwrap_or_default();
        if mem.len() < blocks {
            mem.resize(blocks, Block::new());
        }
        let mut out = [0u8; 64];
        let out = &mut out[..expected.len()];
        let ok = Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                out,
                &mut mem[..blocks],
            )
            .is_ok()
            // Output equality is constant-time.
            && Output::new(out).is_ok_and(|o| &o == expected);
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(mem);
        ok
    }
}

impl Default for PasswordChecker {
    fn default() -> Self {
        PasswordChecker::new(Self::DEFAULT_MAX_M_KIB)
    }
}

/// The documented demo password of an account: `patrol-<id>`.
pub fn demo_password(user_id: &str) -> String {
    format!("patrol-{user_id}")
}

/// Id of the demo centre operator.
pub const DEMO_CENTRE_ID: &str = "C0001";

/// (id, name, role, squad, supervision grid) of an account to create.
type Person = (String, String, Role, Option<String>, Option<String>);

/// Counts of what [`load_district`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LoadedCounts {
    /// Inspector accounts (squad leaders excluded).
    pub inspectors: usize,
    /// Squad leader accounts.
    pub leaders: usize,
    /// Centre operator accounts.
    pub centre: usize,
    /// Squads.
    pub squads: usize,
}

/// Stores the district's squads and one account per inspector and leader plus
/// the centre operator(s) `centre_ids`, each with [`demo_password`], hashed
/// with `cost` on `threads` threads. Idempotent: reloading replaces accounts.
pub fn load_district(
    store: &dyn ServerStore,
    district: &District,
    centre_ids: &[&str],
    cost: HashCost,
    threads: usize,
) -> Result<LoadedCounts, AccountError> {
    let mut people: Vec<Person> = district
        .inspectors
        .iter()
        .map(|i| {
            // Leaders keep their assigned grid too; their scope is the squad.
            (
                i.id.clone(),
                i.name.clone(),
                i.role,
                Some(i.squad.clone()),
                Some(i.supervision_grid.clone()),
            )
        })
        .collect();
    for (n, id) in centre_ids.iter().enumerate() {
        people.push((
            id.to_string(),
            format!("监督中心受理员{}", n + 1),
            Role::CentreOperator,
            None,
            None,
        ));
    }
    let threads = threads.max(1);
    let chunk = people.len().div_ceil(threads).max(1);
    let hashed: Vec<Result<Vec<User>, AccountError>> = std::thread::scope(|s| {
        let handles: Vec<_> = people
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(id, name, role, squad, grid)| {
                            Ok(User {
                                id: id.clone(),
                                name: name.clone(),
                                role: *role,
                                squad: squad.clone(),
                                supervision_grid: grid.clone(),
                                password_hash: hash_password(&demo_password(id), cost)?,
                            })
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(AccountError::Hash("hashing thread panicked".into())))
            })
            .collect()
    });
    let mut users = Vec::with_capacity(people.len());
    for part in hashed {
        users.extend(part?);
    }
    let squads: Vec<SquadRecord> = district
        .squads
        .iter()
        .map(|s| SquadRecord {
            id: s.id.clone(),
            name: s.name.clone(),
            leader: s.leader.clone(),
            supervision_grids: s.supervision_grids.clone(),
        })
        .collect();
    store.upsert_squads(&squads)?;
    store.upsert_users(&users)?;
    Ok(LoadedCounts {
        inspectors: users.iter().filter(|u| u.role == Role::Inspector).count(),
        leaders: users.iter().filter(|u| u.role == Role::SquadLeader).count(),
        centre: centre_ids.len(),
        squads: squads.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COST: HashCost = HashCost { m_kib: 256, t: 1 };

    #[test]
    fn pooled_check_agrees_with_the_argon2_verifier() {
        let checker = PasswordChecker::default();
        let h = hash_password("right", COST).unwrap();
        assert!(checker.verify("right", &h));
        assert!(!checker.verify("wrong", &h));
        assert!(verify_password("right", &h));
        assert!(!checker.verify("right", "not a phc string"));
        assert!(!checker.verify("right", &dummy_hash_like(&h).unwrap()));
        let standard = hash_password("right", HashCost::DEMO).unwrap();
        assert!(checker.verify("right", &standard));
    }

    #[test]
    fn memory_is_reused_one_buffer_per_concurrent_check() {
        let checker = PasswordChecker::default();
        let h = hash_password("right", COST).unwrap();
        for _ in 0..50 {
            checker.verify("wrong", &h);
        }
        assert_eq!(checker.pooled(), (1, 256));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20 {
                        checker.verify("wrong", &h);
                    }
                });
            }
        });
        let (buffers, _) = checker.pooled();
        assert!(buffers <= 4, "{buffers}");
    }

    #[test]
    fn a_hash_asking_for_more_memory_than_allowed_is_not_allocated() {
        let checker = PasswordChecker::new(128);
        let h = hash_password("right", COST).unwrap();
        assert!(!checker.verify("right", &h));
        assert_eq!(checker.pooled(), (0, 0));
    }

    #[test]
    fn dummy_has_the_parameters_of_its_model() {
        let h = hash_password("x", COST).unwrap();
        let d = dummy_hash_like(&h).unwrap();
        assert_eq!(hash_params(&d), hash_params(&h));
        assert_ne!(d, h);
    }
}
