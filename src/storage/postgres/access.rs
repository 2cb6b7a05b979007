//! Who may sign in: groups, their members, and invitations, for PostgreSQL.

use deadpool_postgres::GenericClient;

use super::{Postgres, StorageError};
use crate::domain::{EmailAddress, GroupName};
use crate::storage::records::{
    GroupOverview, InvitationOverview, InviteOutcome, MailKind, Membership, NewInvitation, UserRef,
};

/// The user an operator named, if there is one.
pub(super) async fn user_id_of(
    client: &impl GenericClient,
    who: &UserRef,
) -> anyhow::Result<Option<i64>> {
    let row = match who {
        UserRef::Id(id) => {
            client
                .query_opt("SELECT id FROM users WHERE id = $1", &[id])
                .await?
        }
        UserRef::Email(email) => {
            client
                .query_opt(
                    "SELECT user_id FROM user_emails WHERE email = $1",
                    &[&email.as_str()],
                )
                .await?
        }
    };
    Ok(row.map(|row| row.get(0)))
}

async fn group_id(client: &impl GenericClient, name: &GroupName) -> anyhow::Result<Option<i64>> {
    let row = client
        .query_opt("SELECT id FROM groups WHERE name = $1", &[&name.as_str()])
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// A user's group names, sorted.
pub(super) async fn groups_of(
    client: &impl GenericClient,
    user_id: i64,
) -> anyhow::Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT g.name FROM user_groups ug JOIN groups g ON g.id = ug.group_id \
             WHERE ug.user_id = $1 ORDER BY g.name COLLATE \"C\"",
            &[&user_id],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// The live invitation for an address, if any.
pub(super) async fn live_invitation(
    client: &impl GenericClient,
    email: &EmailAddress,
    now: i64,
) -> anyhow::Result<Option<i64>> {
    let row = client
        .query_opt(
            "SELECT id FROM invitations WHERE email = $1 AND expires_at > $2 \
             AND used_at IS NULL AND revoked_at IS NULL ORDER BY id DESC LIMIT 1",
            &[&email.as_str(), &now],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Takes the lock a sign-in for the address takes (`../signin.rs`), so that
/// inviting, revoking and signing up with one address run one after another
/// across instances.
async fn lock_address(client: &impl GenericClient, email: &EmailAddress) -> anyhow::Result<()> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            &[&format!("address:{}", email.as_str())],
        )
        .await?;
    Ok(())
}

/// Marks the invitation used by the new account, and puts the account in its
/// groups. It must still be live: the address's lock keeps a revocation from
/// slipping in between, and this refuses rather than trusts that.
pub(super) async fn accept_invitation(
    client: &impl GenericClient,
    invitation_id: i64,
    user_id: i64,
    now: i64,
) -> anyhow::Result<()> {
    let claimed = client
        .execute(
            "UPDATE invitations SET used_at = $2 WHERE id = $1 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
            &[&invitation_id, &now],
        )
        .await?;
    anyhow::ensure!(claimed == 1, "the invitation ended while it was being used");
    client
        .execute(
            "INSERT INTO user_groups (user_id, group_id, created_at) \
             SELECT $2, group_id, $3 FROM invitation_groups WHERE invitation_id = $1 \
             ON CONFLICT DO NOTHING",
            &[&invitation_id, &user_id, &now],
        )
        .await?;
    Ok(())
}

/// Revokes the address's live invitations, and drops their emails not yet sent.
async fn revoke_live(
    client: &impl GenericClient,
    email: &EmailAddress,
    now: i64,
) -> anyhow::Result<u64> {
    let revoked = client
        .execute(
            "UPDATE invitations SET revoked_at = $2 WHERE email = $1 \
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
            &[&email.as_str(), &now],
        )
        .await?;
    client
        .execute(
            "UPDATE outbox SET failed_at = $2, last_error = 'invitation revoked' \
             WHERE recipient = $1 AND kind = $3 AND sent_at IS NULL AND failed_at IS NULL",
            &[&email.as_str(), &now, &MailKind::Invitation.as_str()],
        )
        .await?;
    Ok(revoked)
}

impl Postgres {
    /// False when a group of that name exists already.
    pub async fn create_group(&self, name: GroupName, now: i64) -> Result<bool, StorageError> {
        self.guard("create a group", async {
            let added = self
                .client()
                .await?
                .execute(
                    "INSERT INTO groups (name, created_at) VALUES ($1, $2) \
                     ON CONFLICT (name) DO NOTHING",
                    &[&name.as_str(), &now],
                )
                .await?;
            Ok(added == 1)
        })
        .await
    }

    /// Deletes the group and every membership in it; how many people were in it,
    /// or `None` when there is no such group.
    pub async fn delete_group(&self, name: GroupName) -> Result<Option<u64>, StorageError> {
        self.guard("delete a group", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(id) = group_id(&tx, &name).await? else {
                return Ok(None);
            };
            let members = tx
                .execute("DELETE FROM user_groups WHERE group_id = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM invitation_groups WHERE group_id = $1", &[&id])
                .await?;
            tx.execute("DELETE FROM groups WHERE id = $1", &[&id])
                .await?;
            tx.commit().await?;
            Ok(Some(members))
        })
        .await
    }

    pub async fn list_groups(&self) -> Result<Vec<GroupOverview>, StorageError> {
        self.guard("list groups", async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT g.name, g.created_at, \
                     (SELECT count(*) FROM user_groups ug WHERE ug.group_id = g.id) \
                     FROM groups g ORDER BY g.name COLLATE \"C\"",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| GroupOverview {
                    name: GroupName::from_trusted(row.get(0)),
                    created_at: row.get(1),
                    members: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
                })
                .collect())
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
        self.guard("change a group's members", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let Some(group) = group_id(&tx, &name).await? else {
                return Ok(Membership::NoSuchGroup);
            };
            let Some(user) = user_id_of(&tx, &who).await? else {
                return Ok(Membership::NoSuchUser);
            };
            let changed = match add {
                true => {
                    tx.execute(
                        "INSERT INTO user_groups (user_id, group_id, created_at) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                        &[&user, &group, &now],
                    )
                    .await?
                }
                false => {
                    tx.execute(
                        "DELETE FROM user_groups WHERE user_id = $1 AND group_id = $2",
                        &[&user, &group],
                    )
                    .await?
                }
            };
            tx.commit().await?;
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
        self.guard("invite an address", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            lock_address(&tx, &invitation.email).await?;
            let owner = user_id_of(&tx, &UserRef::Email(invitation.email.clone())).await?;
            if let Some(user_id) = owner {
                return Ok(InviteOutcome::HasAccount(user_id));
            }
            let mut groups = Vec::new();
            let mut missing = Vec::new();
            for name in &invitation.groups {
                match group_id(&tx, name).await? {
                    Some(id) => groups.push(id),
                    None => missing.push(name.clone()),
                }
            }
            if !missing.is_empty() {
                return Ok(InviteOutcome::NoSuchGroups(missing));
            }
            let replaced = revoke_live(&tx, &invitation.email, now).await? > 0;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO invitations (email, created_at, expires_at) \
                     VALUES ($1, $2, $3) RETURNING id",
                    &[&invitation.email.as_str(), &now, &invitation.expires_at],
                )
                .await?
                .get(0);
            tx.execute(
                "INSERT INTO invitation_groups (invitation_id, group_id) \
                 SELECT $1, unnest($2::BIGINT[]) ON CONFLICT DO NOTHING",
                &[&id, &groups],
            )
            .await?;
            super::outbox::insert(&tx, &invitation.mail, now).await?;
            tx.commit().await?;
            Ok(InviteOutcome::Invited { replaced })
        })
        .await
    }

    /// Every invitation, newest first.
    pub async fn list_invitations(
        &self,
        now: i64,
    ) -> Result<Vec<InvitationOverview>, StorageError> {
        self.guard("list invitations", async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT i.email, i.created_at, i.expires_at, i.used_at, i.revoked_at, \
                     (SELECT string_agg(g.name, ',' ORDER BY g.name COLLATE \"C\") FROM invitation_groups ig \
                      JOIN groups g ON g.id = ig.group_id WHERE ig.invitation_id = i.id) \
                     FROM invitations i ORDER BY i.created_at DESC, i.id DESC",
                    &[],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|row| {
                    let (state, ended_at) =
                        InvitationOverview::state_of(row.get(2), row.get(3), row.get(4), now);
                    let groups: Option<String> = row.get(5);
                    InvitationOverview {
                        email: row.get(0),
                        created_at: row.get(1),
                        expires_at: row.get(2),
                        groups: groups
                            .map(|g| g.split(',').map(str::to_owned).collect())
                            .unwrap_or_default(),
                        state,
                        ended_at,
                    }
                })
                .collect())
        })
        .await
    }

    /// Revokes the address's live invitation; whether there was one.
    pub async fn revoke_invitation(
        &self,
        email: EmailAddress,
        now: i64,
    ) -> Result<bool, StorageError> {
        self.guard("revoke an invitation", async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            lock_address(&tx, &email).await?;
            let revoked = revoke_live(&tx, &email, now).await? > 0;
            tx.commit().await?;
            Ok(revoked)
        })
        .await
    }
}
