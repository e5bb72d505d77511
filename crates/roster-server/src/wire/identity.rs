//! The contact identity fields of endpoints without a first name (newEvent,
//! getCustomerEvents, addMemberships): `_id`, `user_id`, `email`, `phone`.

use roster_domain::{ContactId, ContactIdentity, Email, InputError, Phone, PhoneRegion};

pub struct IdentityFields<'a> {
    pub id: &'a Option<String>,
    pub user_id: &'a Option<String>,
    pub email: &'a Option<String>,
    pub phone: &'a Option<String>,
}

impl IdentityFields<'_> {
    /// For writes: at least one identity field, each well formed.
    pub fn for_write(&self, region: PhoneRegion) -> Result<ContactIdentity, InputError> {
        let identity = self.parse(region)?;
        let named = identity.id.is_some()
            || identity.user_id.is_some()
            || identity.email.is_some()
            || identity.phone.is_some();
        if !named {
            return Err(InputError::new(
                "user_id",
                "user_id is required (or _id, email or phone)",
            ));
        }
        Ok(identity)
    }

    /// For reads: `None` when the fields cannot name any contact (no field, or an `_id`
    /// that is no contact id: an empty list, as the contract says of unknown ids).
    pub fn for_read(&self, region: PhoneRegion) -> Result<Option<ContactIdentity>, InputError> {
        if self
            .id
            .as_deref()
            .is_some_and(|id| ContactId::parse("_id", id).is_err())
        {
            return Ok(None);
        }
        let identity = self.parse(region)?;
        let named = identity.id.is_some()
            || identity.user_id.is_some()
            || identity.email.is_some()
            || identity.phone.is_some();
        Ok(named.then_some(identity))
    }

    fn parse(&self, region: PhoneRegion) -> Result<ContactIdentity, InputError> {
        Ok(ContactIdentity {
            id: self
                .id
                .as_deref()
                .map(|id| ContactId::parse("_id", id))
                .transpose()?,
            user_id: self.user_id.clone(),
            first_name: None,
            email: self
                .email
                .as_deref()
                .map(|e| Email::parse("email", e))
                .transpose()?,
            phone: self
                .phone
                .as_deref()
                .map(|p| Phone::parse("phone", p, region))
                .transpose()?,
        })
    }
}
