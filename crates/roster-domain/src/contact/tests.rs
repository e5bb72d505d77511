use super::*;

fn now() -> Timestamp {
    Timestamp::now()
}

fn request(first: &str) -> NewContact {
    NewContact {
        id: None,
        user_id: None,
        first_name: first.into(),
        last_name: "Lopez".into(),
        email: None,
        phone: None,
        profile: Profile::default(),
        created_date: None,
        optin_sms: None,
        optout_email: None,
        tags: vec![],
        tag_action: TagAction::Add,
        custom: BTreeMap::new(),
    }
}

fn contact() -> Contact {
    request("Ana").create(ContactId::generate(now().datetime()), now())
}

#[test]
fn absent_fields_keep_their_values_on_update() {
    let mut ana = contact();
    ana.profile.city = Some("Austin".into());
    ana.custom.insert("shoe".into(), Value::from(39));
    let mut update = request("Ana");
    update.profile.zip = Some("78701".into());
    update.apply_to(&mut ana, now());
    assert_eq!(ana.profile.city.as_deref(), Some("Austin"));
    assert_eq!(ana.profile.zip.as_deref(), Some("78701"));
    assert_eq!(ana.custom["shoe"], Value::from(39));
}

#[test]
fn a_null_custom_attribute_removes_it() {
    let mut ana = contact();
    ana.custom.insert("shoe".into(), Value::from(39));
    let mut update = request("Ana");
    update.custom.insert("shoe".into(), Value::Null);
    update.apply_to(&mut ana, now());
    assert!(ana.custom.is_empty());
}

#[test]
fn tags_add_without_duplicates_and_remove_case_insensitively() {
    let mut ana = contact();
    let mut add = request("Ana");
    add.tags = split_tags("vip, Yoga ,,vip,YOGA");
    add.apply_to(&mut ana, now());
    assert_eq!(ana.tags, ["vip", "Yoga"]);
    let mut remove = request("Ana");
    remove.tags = split_tags("yoga,unknown");
    remove.tag_action = TagAction::Remove;
    remove.apply_to(&mut ana, now());
    assert_eq!(ana.tags, ["vip"]);
}

#[test]
fn sms_consent_follows_optin_sms() {
    let mut consent = Consent::default();
    let t1 = now();
    consent.set_sms(true, t1);
    assert!(consent.sms_optin && !consent.sms_optout);
    assert_eq!(consent.sms_optin_date, Some(t1));
    consent.set_sms(false, t1);
    assert!(!consent.sms_optin && consent.sms_optout);
    assert!(consent.sms_optout_date.is_some());
}

#[test]
fn repeating_an_opt_in_keeps_its_original_date() {
    let mut consent = Consent::default();
    let first = Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").unwrap();
    consent.set_sms(true, first);
    consent.set_sms(true, now());
    assert_eq!(consent.sms_optin_date, Some(first));
}

#[test]
fn email_opt_out_is_set_and_cleared() {
    let mut consent = Consent::default();
    consent.set_email_optout(true, now());
    assert!(consent.email_optout && consent.email_optout_date.is_some());
    consent.set_email_optout(false, now());
    assert!(!consent.email_optout && consent.email_optout_date.is_none());
}

#[test]
fn merge_fills_empty_fields_from_the_retired_contact() {
    let mut survivor = contact();
    survivor.profile.city = Some("Austin".into());
    let mut retired = contact();
    retired.user_id = Some("u-7".into());
    retired.profile.city = Some("Dallas".into());
    retired.profile.zip = Some("75001".into());
    retired.tags = vec!["vip".into()];
    retired.custom.insert("shoe".into(), Value::from(40));
    survivor.absorb(retired, now());
    assert_eq!(survivor.user_id.as_deref(), Some("u-7"));
    assert_eq!(survivor.profile.city.as_deref(), Some("Austin"));
    assert_eq!(survivor.profile.zip.as_deref(), Some("75001"));
    assert_eq!(survivor.tags, ["vip"]);
    assert_eq!(survivor.custom["shoe"], Value::from(40));
}

#[test]
fn in_a_merge_an_opt_out_on_either_side_wins() {
    let mut survivor = contact();
    survivor.consent.set_sms(true, now());
    let mut retired = contact();
    retired.consent.set_sms(false, now());
    retired.consent.set_email_optout(true, now());
    survivor.absorb(retired, now());
    assert!(!survivor.consent.sms_optin && survivor.consent.sms_optout);
    assert!(survivor.consent.email_optout);
}

#[test]
fn in_a_merge_an_opt_in_carries_over() {
    let mut survivor = contact();
    let mut retired = contact();
    retired.consent.set_sms(true, now());
    survivor.absorb(retired, now());
    assert!(survivor.consent.sms_optin);
    assert!(survivor.consent.sms_optin_date.is_some());
}

#[test]
fn identity_by_email_needs_the_first_name_and_a_compatible_user_id() {
    let mut identity = request("ANA").identity();
    assert!(identity.accepts("ana", None));
    assert!(!identity.accepts("Anna", None));
    assert!(
        identity.accepts("Ana", Some("u-1")),
        "a request without user_id conflicts with none"
    );
    identity.user_id = Some("u-2".into());
    assert!(identity.accepts("Ana", Some("u-2")));
    assert!(!identity.accepts("Ana", Some("u-1")));
}
