//! Contacts and the rules of a write: what `newContact` changes, how identity matches, how a
//! merge combines two contacts. Contract: `shared/gleantap/api.md`, "Contact identity",
//! "newContact" and "mergeContacts".

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{ContactId, Date, Email, Phone, Timestamp};

/// The descriptive fields of a contact. In a [`NewContact`] a `None` means "absent from the
/// request": the stored value is kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub source: Option<String>,
    pub dob: Option<Date>,
    pub gender: Option<String>,
    /// `type` on the wire (member, past, prospect...).
    pub kind: Option<String>,
    pub status: Option<String>,
    pub location: Option<String>,
}

impl Profile {
    /// Fields present in `patch` replace ours.
    fn overlay(&mut self, patch: &Profile) {
        self.each_field(patch, |ours, theirs| {
            if theirs.is_some() {
                ours.clone_from(theirs);
            }
        });
        if patch.dob.is_some() {
            self.dob = patch.dob;
        }
    }

    /// Fields empty here are filled from `other` (merge).
    fn fill_from(&mut self, other: &Profile) {
        self.each_field(other, |ours, theirs| {
            if ours.is_none() {
                ours.clone_from(theirs);
            }
        });
        self.dob = self.dob.or(other.dob);
    }

    fn each_field(
        &mut self,
        other: &Profile,
        mut f: impl FnMut(&mut Option<String>, &Option<String>),
    ) {
        f(&mut self.address, &other.address);
        f(&mut self.city, &other.city);
        f(&mut self.state, &other.state);
        f(&mut self.zip, &other.zip);
        f(&mut self.source, &other.source);
        f(&mut self.gender, &other.gender);
        f(&mut self.kind, &other.kind);
        f(&mut self.status, &other.status);
        f(&mut self.location, &other.location);
    }
}

/// SMS and email consent with the time of each change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Consent {
    pub sms_optin: bool,
    pub sms_optin_date: Option<Timestamp>,
    pub sms_optout: bool,
    pub sms_optout_date: Option<Timestamp>,
    pub email_optout: bool,
    pub email_optout_date: Option<Timestamp>,
}

impl Consent {
    /// `optin_sms`: true opts in (the caller vouches for consent); false withdraws it and
    /// records an SMS opt-out.
    pub fn set_sms(&mut self, opted_in: bool, now: Timestamp) {
        if opted_in == self.sms_optin && opted_in != self.sms_optout {
            return; // unchanged: keep the date of the original change
        }
        self.sms_optin = opted_in;
        self.sms_optout = !opted_in;
        if opted_in {
            self.sms_optin_date = Some(now);
        } else {
            self.sms_optout_date = Some(now);
        }
    }

    /// `optout_email`: true opts out of email, false clears that opt-out.
    pub fn set_email_optout(&mut self, opted_out: bool, now: Timestamp) {
        if opted_out == self.email_optout {
            return;
        }
        self.email_optout = opted_out;
        self.email_optout_date = opted_out.then_some(now);
    }

    /// Contract, mergeContacts: an opt-out on either side wins; otherwise an opt-in on
    /// either side carries over.
    fn merge(&self, other: &Consent) -> Consent {
        let earliest = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sms_optout = self.sms_optout || other.sms_optout;
        let email_optout = self.email_optout || other.email_optout;
        let sms_optin = !sms_optout && (self.sms_optin || other.sms_optin);
        Consent {
            sms_optin,
            sms_optin_date: if sms_optin {
                earliest(self.sms_optin_date, other.sms_optin_date)
            } else {
                None
            },
            sms_optout,
            sms_optout_date: if sms_optout {
                earliest(self.sms_optout_date, other.sms_optout_date)
            } else {
                None
            },
            email_optout,
            email_optout_date: if email_optout {
                earliest(self.email_optout_date, other.email_optout_date)
            } else {
                None
            },
        }
    }
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub id: ContactId,
    pub user_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub profile: Profile,
    /// The location of the latest visit that names one. Read from the events, never
    /// stored: writing a contact ignores it.
    pub last_location: Option<String>,
    pub custom: BTreeMap<String, Value>,
    pub tags: Vec<String>,
    pub consent: Consent,
    /// The latest visit (an event with `is_visit`). Read from the events, never stored.
    pub last_visit: Option<Timestamp>,
    pub created_date: Timestamp,
    pub updated_date: Timestamp,
}

impl Contact {
    /// The contact newEvent creates when no contact matches: only what the event carries.
    pub fn minimal(id: ContactId, identity: &ContactIdentity, now: Timestamp) -> Contact {
        Contact {
            id,
            user_id: identity.user_id.clone(),
            first_name: String::new(),
            last_name: String::new(),
            email: identity.email.clone(),
            phone: identity.phone.clone(),
            profile: Profile::default(),
            last_location: None,
            custom: BTreeMap::new(),
            tags: Vec::new(),
            consent: Consent::default(),
            last_visit: None,
            created_date: now,
            updated_date: now,
        }
    }

    /// Contract, mergeContacts: `self` survives; fields empty here are filled from the
    /// retired contact, tags are united, consent merged.
    pub fn absorb(&mut self, retired: Contact, now: Timestamp) {
        fill(&mut self.user_id, retired.user_id);
        fill(&mut self.email, retired.email);
        fill(&mut self.phone, retired.phone);
        // The last visit and location follow the retired contact's events, which move.
        self.profile.fill_from(&retired.profile);
        for (name, value) in retired.custom {
            self.custom.entry(name).or_insert(value);
        }
        add_tags(&mut self.tags, &retired.tags);
        self.consent = self.consent.merge(&retired.consent);
        self.created_date = self.created_date.min(retired.created_date);
        self.updated_date = now;
    }
}

fn fill<T>(ours: &mut Option<T>, theirs: Option<T>) {
    if ours.is_none() {
        *ours = theirs;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagAction {
    #[default]
    Add,
    Remove,
}

/// A parsed `newContact` request.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// `_id`: names the contact to update directly.
    pub id: Option<ContactId>,
    pub user_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub profile: Profile,
    pub created_date: Option<Timestamp>,
    pub optin_sms: Option<bool>,
    pub optout_email: Option<bool>,
    pub tags: Vec<String>,
    pub tag_action: TagAction,
    /// Custom attributes; a JSON `null` removes one.
    pub custom: BTreeMap<String, Value>,
}

impl NewContact {
    pub fn identity(&self) -> ContactIdentity {
        ContactIdentity {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            first_name: Some(self.first_name.clone()),
            email: self.email.clone(),
            phone: self.phone.clone(),
        }
    }

    /// The contact this request creates when nothing matched.
    pub fn create(&self, id: ContactId, now: Timestamp) -> Contact {
        let mut contact = Contact {
            id,
            user_id: None,
            first_name: String::new(),
            last_name: String::new(),
            email: None,
            phone: None,
            profile: Profile::default(),
            last_location: None,
            custom: BTreeMap::new(),
            tags: Vec::new(),
            consent: Consent::default(),
            last_visit: None,
            created_date: self.created_date.unwrap_or(now),
            updated_date: now,
        };
        self.apply_to(&mut contact, now);
        contact
    }

    /// Contract, newContact: fields absent from the request keep their values.
    pub fn apply_to(&self, contact: &mut Contact, now: Timestamp) {
        contact.first_name.clone_from(&self.first_name);
        contact.last_name.clone_from(&self.last_name);
        replace_if_given(&mut contact.user_id, &self.user_id);
        replace_if_given(&mut contact.email, &self.email);
        replace_if_given(&mut contact.phone, &self.phone);
        contact.profile.overlay(&self.profile);
        if let Some(created) = self.created_date {
            contact.created_date = created;
        }
        if let Some(optin) = self.optin_sms {
            contact.consent.set_sms(optin, now);
        }
        if let Some(optout) = self.optout_email {
            contact.consent.set_email_optout(optout, now);
        }
        match self.tag_action {
            TagAction::Add => add_tags(&mut contact.tags, &self.tags),
            TagAction::Remove => remove_tags(&mut contact.tags, &self.tags),
        }
        for (name, value) in &self.custom {
            if value.is_null() {
                contact.custom.remove(name);
            } else {
                contact.custom.insert(name.clone(), value.clone());
            }
        }
        contact.updated_date = now;
    }
}

fn replace_if_given<T: Clone>(ours: &mut Option<T>, given: &Option<T>) {
    if given.is_some() {
        ours.clone_from(given);
    }
}

/// Tags compare case-insensitively; the first spelling seen is kept.
fn add_tags(tags: &mut Vec<String>, new: &[String]) {
    for tag in new {
        if !tags.iter().any(|t| same_tag(t, tag)) {
            tags.push(tag.clone());
        }
    }
}

fn remove_tags(tags: &mut Vec<String>, gone: &[String]) {
    tags.retain(|t| !gone.iter().any(|g| same_tag(t, g)));
}

fn same_tag(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Most tags one request may carry, and the longest tag.
pub const MAX_TAGS_PER_REQUEST: usize = 100;
pub const MAX_TAG_LEN: usize = 100;

/// Splits the contract's comma-separated `tags`, dropping blanks; refuses more than
/// [`MAX_TAGS_PER_REQUEST`] tags or one longer than [`MAX_TAG_LEN`] characters.
pub fn parse_tags(field: &str, raw: &str) -> Result<Vec<String>, crate::InputError> {
    let tags = split_tags(raw);
    if tags.len() > MAX_TAGS_PER_REQUEST {
        return Err(crate::InputError::new(
            field,
            format!("at most {MAX_TAGS_PER_REQUEST} tags per request"),
        ));
    }
    if tags.iter().any(|t| t.chars().count() > MAX_TAG_LEN) {
        return Err(crate::InputError::new(
            field,
            format!("a tag is at most {MAX_TAG_LEN} characters"),
        ));
    }
    Ok(tags)
}

fn split_tags(raw: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let parts: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    add_tags(&mut tags, &parts);
    tags
}

/// What a request says about which contact it means. The store looks candidates up in the
/// contract's order (`_id`, `user_id`, email + first name, phone + first name); the
/// acceptance rules for a candidate live here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactIdentity {
    pub id: Option<ContactId>,
    pub user_id: Option<String>,
    /// `None` for endpoints without a first-name field: then email/phone match alone, and
    /// only when exactly one contact has it.
    pub first_name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

impl ContactIdentity {
    /// Whether a contact found by email or phone is this request's contact: the first
    /// name matches case-insensitively, and the contact's `user_id` is empty or equal.
    pub fn accepts(&self, candidate_first_name: &str, candidate_user_id: Option<&str>) -> bool {
        let name_ok = match &self.first_name {
            Some(name) => name.trim().to_lowercase() == candidate_first_name.trim().to_lowercase(),
            None => true,
        };
        let user_ok = match (candidate_user_id, self.user_id.as_deref()) {
            (None, _) => true,
            (Some(theirs), Some(ours)) => theirs == ours,
            (Some(_), None) => true,
        };
        name_ok && user_ok
    }

    /// Contract: "When a match by email or phone meets a request carrying a user_id, the
    /// contact takes that user_id." Returns whether the contact changed.
    pub fn give_user_id(&self, contact: &mut Contact) -> bool {
        match (&self.user_id, &contact.user_id) {
            (Some(ours), None) => {
                contact.user_id = Some(ours.clone());
                true
            }
            _ => false,
        }
    }

    /// Whether several accepted candidates may still pick one (the oldest). Without a first
    /// name to narrow them, an email or phone shared by several contacts names none.
    pub fn requires_unique_match(&self) -> bool {
        self.first_name.is_none()
    }
}

/// `getCustomers` filters; several combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactFilter {
    pub id: Option<ContactId>,
    pub user_id: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub updated_since: Option<Date>,
    /// Only contacts with an event on or after this date.
    pub event_since: Option<Date>,
}

/// `type` of `getOptoutCustomers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptoutChannel {
    Email,
    Sms,
}

#[cfg(test)]
mod tests;
