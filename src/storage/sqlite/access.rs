//! Who may sign in: groups, their members, and invitations, for SQLite.

use r2d2_sqlite::rusqlite::{self, Connection, OptionalExtension, Transaction, params};

use super::{Sqlite, StorageError};
use crate::domain::{EmailAddress, GroupName};
use crate::storage::records::{
    GroupOverview, InvitationOverview, InviteOutcome, MailKind, Membership, NewInvitation, UserRef,
};

/// The user an operator named, if there is one.
pub(super) fn user_id_of(conn: &Connection, who: &UserRef) -> rusqlite::Result<Option<i64>> {
    match who {
        UserRef::Id(id) => conn
            .query_row("SELECT id FROM users WHERE id = ?1", [id], |r| r.get(0))
            .optional(),
        UserRef::Email(email) => conn
            .query_row(
                "SELECT user_id FROM user_emails WHERE email = ?1",
                [email.as_str()],
                |r| r.get(0),
            )
            .optional(),
    }
}

fn group_id(conn: &Connection, name: &GroupName) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM groups WHERE name = ?1")?
        .query_row([name.as_str()], |r| r.get(0))
        .optional()
}

/// A user's group names, sorted.
pub(super) fn groups_of(conn: &Connection, user_id: i64) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached(
        "SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id \
         WHERE ug.user_id = ?1 ORDER BY g.name",
    )?
    .query_map([user_id], |r| r.get(0))?
    .collect()
}

/// The live invitation for an address, if any.
pub(super) fn live_invitation(
    conn: &Connection,
    email: &EmailAddress,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT id FROM invitations WHERE email = ?1 AND expires_at > ?2 \
         AND used_at IS NULL AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![email.as_str(), now], |r| r.get(0))
    .optional()
}

/// Marks the invitation used by the new account, and puts the account in its
/// groups. It must still be live (the single writer already sees to that).
pub(super) fn accept_invitation(
    tx: &Connection,
    invitation_id: i64,
    user_id: i64,
    now: i64,
) -> anyhow::Result<()> {
    let claimed = tx
        .prepare_cached(
            "UPDATE invitations SET used_at = ?2 WHERE id = ?1 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
        )?
        .execute(params![invitation_id, now])?;
    anyhow::ensure!(claimed == 1, "the invitation ended while it was being used");
    tx.prepare_cached(
        "INSERT OR IGNORE INTO user_groups (user_id, group_id, created_at) \
         SELECT ?2, group_id, ?3 FROM invitation_groups WHERE invitation_id = ?1",
    )?
    .execute(params![invitation_id, user_id, now])?;
    Ok(())
}

/// Revokes the address's live invitations, and drops their emails not yet sent.
fn revoke_live(tx: &Transaction, email: &EmailAddress, now: i64) -> rusqlite::Result<usize> {
    let revoked = tx.execute(
        "UPDATE invitations SET revoked_at = ?2 WHERE email = ?1 \
         AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
        params![email.as_str(), now],
    )?;
    tx.execute(
        "UPDATE outbox SET failed_at = ?2, last_error = 'invitation revoked' \
         WHERE recipient = ?1 AND kind = ?3 AND sent_at IS NULL AND failed_at IS NULL",
        params![email.as_str(), now, MailKind::Invitation.as_str()],
    )?;
    Ok(revoked)
}

impl Sqlite {
    /// False when a group of that name exists already.
    pub async fn create_group(&self, name: GroupName, now: i64) -> Result<bool, StorageError> {
        self.write("create a group", move |tx| {
            let added = tx.execute(
                "INSERT INTO groups (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name.as_str(), now],
            )?;
            Ok(added == 1)
        })
        .await
    }

    /// Deletes the group and every membership in it; how many people were in it,
    /// or `None` when there is no such group.
    pub async fn delete_group(&self, name: GroupName) -> Result<Option<u64>, StorageError> {
        self.write("delete a group", move |tx| {
            let Some(id) = group_id(tx, &name)? else {
                return Ok(None);
            };
            let members = tx.execute("DELETE FROM user_groups WHERE group_id = ?1", [id])?;
            tx.execute("DELETE FROM invitation_groups WHERE group_id = ?1", [id])?;
            tx.execute("DELETE FROM groups WHERE id = ?1", [id])?;
            Ok(Some(members as u64))
        })
        .await
    }

    pub async fn list_groups(&self) -> Result<Vec<GroupOverview>, StorageError> {
        self.run("list groups", |conn| {
            conn.prepare(
                "SELECT g.name, g.created_at, \
                 (SELECT count(*) FROM user_groups ug WHERE ug.group_id = g.id) \
                 FROM groups g ORDER BY g.name",
            )?
            .query_map([], |r| {
                Ok(GroupOverview {
                    name: GroupName::from_trusted(r.get(0)?),
                    created_at: r.get(1)?,
                    members: r.get(2)?,
                })
            })?
            .collect()
        })
        .await
    }

    /// Puts the user in the group (`add`) or takes them out.
    pub async fn set_membership(
        &self,
        name: GroupName,
        who: UserRef,
        add: bool,
        now: i64,
    ) -> Result<Membership, StorageError> {
        self.write("change a group's members", move |tx| {
            let Some(group) = group_id(tx, &name)? else {
                return Ok(Membership::NoSuchGroup);
            };
            let Some(user) = user_id_of(tx, &who)? else {
                return Ok(Membership::NoSuchUser);
            };
            let changed = match add {
                true => tx.execute(
                    "INSERT OR IGNORE INTO user_groups (user_id, group_id, created_at) \
                     VALUES (?1, ?2, ?3)",
                    params![user, group, now],
                )?,
                false => tx.execute(
                    "DELETE FROM user_groups WHERE user_id = ?1 AND group_id = ?2",
                    params![user, group],
                )?,
            };
            Ok(match changed {
                0 => Membership::Unchanged,
                _ => Membership::Changed,
            })
        })
        .await
    }

    /// Stores the invitation (replacing a live one for the same address) and
    /// queues its email, in one transaction.
    pub async fn invite(
        &self,
        invitation: NewInvitation,
        now: i64,
    ) -> Result<InviteOutcome, StorageError> {
        self.write("invite an address", move |tx| {
            let owner = user_id_of(tx, &UserRef::Email(invitation.email.clone()))?;
            if let Some(user_id) = owner {
                return Ok(InviteOutcome::HasAccount(user_id));
            }
            let mut groups = Vec::new();
            let mut missing = Vec::new();
            for name in &invitation.groups {
                match group_id(tx, name)? {
                    Some(id) => groups.push(id),
                    None => missing.push(name.clone()),
                }
            }
            if !missing.is_empty() {
                return Ok(InviteOutcome::NoSuchGroups(missing));
            }
            let replaced = revoke_live(tx, &invitation.email, now)? > 0;
            tx.execute(
                "INSERT INTO invitations (email, created_at, expires_at) VALUES (?1, ?2, ?3)",
                params![invitation.email.as_str(), now, invitation.expires_at],
            )?;
            let id = tx.last_insert_rowid();
            for group in groups {
                tx.execute(
                    "INSERT OR IGNORE INTO invitation_groups (invitation_id, group_id) VALUES (?1, ?2)",
                    params![id, group],
                )?;
            }
            super::outbox::insert(tx, &invitation.mail, now)?;
            Ok(InviteOutcome::Invited { replaced })
        })
        .await
    }

    /// Every invitation, newest first.
    pub async fn list_invitations(
        &self,
        now: i64,
    ) -> Result<Vec<InvitationOverview>, StorageError> {
        self.run("list invitations", move |conn| {
            conn.prepare(
                "SELECT i.email, i.created_at, i.expires_at, i.used_at, i.revoked_at, \
                 (SELECT group_concat(g.name, ',' ORDER BY g.name) FROM invitation_groups ig \
                  JOIN groups g ON g.id = ig.group_id WHERE ig.invitation_id = i.id) \
                 FROM invitations i ORDER BY i.created_at DESC, i.id DESC",
            )?
            .query_map([], |r| {
                let (state, ended_at) =
                    InvitationOverview::state_of(r.get(2)?, r.get(3)?, r.get(4)?, now);
                let groups: Option<String> = r.get(5)?;
                Ok(InvitationOverview {
                    email: r.get(0)?,
                    created_at: r.get(1)?,
                    expires_at: r.get(2)?,
                    groups: groups
                        .map(|g| g.split(',').map(str::to_owned).collect())
                        .unwrap_or_default(),
                    state,
                    ended_at,
                })
            })?
            .collect()
        })
        .await
    }

    /// Revokes the address's live invitation; whether there was one.
    pub async fn revoke_invitation(
        &self,
        email: EmailAddress,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.write("revoke an invitation", move |tx| {
            Ok(revoke_live(tx, &email, now)? > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn invitations_are_kept_for_ninety_days_after_they_end() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Sqlite::open(&dir.path().join("doorcode.db")).unwrap();
        let day = 24 * 3600;
        let now = 1_800_000_000;
        storage
            .write("seed", move |tx| {
                tx.execute_batch(&format!(
                    "INSERT INTO groups (id, name, created_at) VALUES (1, 'family', 0);
                     INSERT INTO invitations (id, email, created_at, expires_at, used_at, revoked_at) VALUES
                       (1, 'used-long-ago@example.com', 0, {far}, {old}, NULL),
                       (2, 'revoked-lately@example.com', 0, {far}, NULL, {recent}),
                       (3, 'expired-long-ago@example.com', 0, {old}, NULL, NULL),
                       (4, 'pending@example.com', 0, {far}, NULL, NULL);
                     INSERT INTO invitation_groups VALUES (1, 1), (4, 1);",
                    far = now + 7 * day,
                    old = now - 91 * day,
                    recent = now - 10 * day,
                ))
            })
            .await
            .unwrap();
        let pruned = storage.prune(now).await.unwrap();
        assert_eq!(pruned.invitations, 2);
        let left: Vec<String> = storage
            .list_invitations(now)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.email)
            .collect();
        assert_eq!(left.len(), 2);
        assert!(left.contains(&"pending@example.com".to_owned()));
        assert!(left.contains(&"revoked-lately@example.com".to_owned()));
        let memberships: i64 = storage
            .run("count", |conn| {
                conn.query_row("SELECT count(*) FROM invitation_groups", [], |r| r.get(0))
            })
            .await
            .unwrap();
        assert_eq!(
            memberships, 1,
            "the pruned invitation's groups went with it"
        );
    }
}
