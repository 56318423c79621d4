//! Who acted, as a page names them: records keep the actor's login name (`staff`,
//! `libuga-w03`) or a system actor (`cli`, `system`, `open311:…`); pages show the person's
//! display name, or the system actor in Chinese. A login that is no account stays as it is.

use linli_core::kernel::audit::system_actor_zh;
use linli_store::{accounts, Db, StoreError};

/// Replaces each actor in place by the name a person reads. (A `Vec`, not an iterator: a
/// borrowing iterator held across the await makes handlers' futures not `Send`.)
pub async fn name_actors(db: &Db, mut actors: Vec<&mut String>) -> Result<(), StoreError> {
    let mut logins: Vec<&str> = actors.iter().map(|a| a.as_str()).collect();
    logins.sort_unstable();
    logins.dedup();
    let names = accounts::names_by_login(db, &logins).await?;
    for a in &mut actors {
        let named = names
            .get(a.as_str())
            .cloned()
            .or_else(|| system_actor_zh(a));
        if let Some(n) = named {
            **a = n;
        }
    }
    Ok(())
}
