//! Accounts: argon2id password hashing and loading a district's people as
//! accounts (used by `gridpatrol init --demo` and by tests).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
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
