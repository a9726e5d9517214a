//! Every mapping error, with the exact message a user sees (file:line:column: what is wrong).

mod common;

use crmsync_core::{validate, Mapping};

/// Parse then validate; every message, one per line.
fn errors(src: &str) -> Vec<String> {
    match Mapping::parse(src, "mapping.toml") {
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
        Ok(m) => match validate(&m, &common::schema()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        },
    }
}

/// A valid Lead board (lines 1-6) followed by `rest` (starting on line 7).
fn lead(rest: &str) -> String {
    format!(
        "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\nitem_name = {{ field = \"Company\" }}\ndefaults = {{ LastName = \"Unknown\" }}\n{rest}"
    )
}

fn column(column: &str, field: &str, transform: &str) -> String {
    format!("[[board.column]]\ncolumn = \"{column}\"\nfield = \"{field}\"\ntransform = \"{transform}\"\n")
}

#[test]
fn the_test_mappings_are_valid() {
    assert_eq!(errors(&lead("")), Vec::<String>::new());
    assert_eq!(errors(common::FULL_MAPPING), Vec::<String>::new());
}

#[test]
fn toml_syntax_error_has_a_line() {
    assert_eq!(
        errors("[[board]]\nboard_id = \"100\nobject = \"Lead\"\n"),
        vec!["mapping.toml:2:16: invalid basic string".to_string()]
    );
}

#[test]
fn missing_and_unknown_keys() {
    assert_eq!(
        errors("[[board]]\nboard_id = \"100\"\nobjet = \"Lead\"\n"),
        vec!["mapping.toml:3:1: unknown field `objet`, expected one of `name`, `board_id`, `object`, `salesforce_id_column`, `external_id_field`, `item_id_field`, `record_type_id`, `item_name`, `defaults`, `on_delete`, `on_archive`, `column`, `migration`".to_string()]
    );
}

#[test]
fn unknown_transform() {
    assert_eq!(
        errors(&lead(&column("text_last", "LastName", "txt"))),
        vec!["mapping.toml:10:13: unknown transform `txt` for column `text_last` (expected one of: text, long_text, numbers, status, dropdown, date, datetime, email, phone, link, checkbox, country, people, board_relation, timeline, rating)".to_string()]
    );
}

#[test]
fn invalid_settings() {
    let src = lead(&format!(
        "{}direction = \"sideways\"\ntimezone = \"Europe/Paris\"\n",
        column("date", "Follow_Up__c", "date")
    ));
    assert_eq!(
        errors(&src),
        vec![
            "mapping.toml:11:13: invalid direction `sideways`: expected one of: both, to_salesforce, to_monday".to_string(),
            "mapping.toml:12:12: invalid timezone `Europe/Paris`: expected `UTC` or a fixed offset such as `+02:00` / `-05:00`".to_string(),
        ]
    );
    let src = "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\ndefaults = { CloseDate = \"today+3w\" }\non_delete = \"archive\"\n";
    assert_eq!(
        errors(src),
        vec![
            "mapping.toml:5:26: invalid default for CloseDate `\"today+3w\"`: expected `today`, `today+Nd` or `today-Nd` (days only)".to_string(),
            "mapping.toml:6:13: invalid on_delete `\"archive\"`: expected \"delete\", \"ignore\" or { set = { Field = value } }".to_string(),
        ]
    );
}

#[test]
fn duplicate_board_column_and_field() {
    let src = format!("{}\n{}", lead(""), lead(""));
    assert_eq!(
        errors(&src),
        vec!["mapping.toml:9:12: board 100 is mapped twice".to_string()]
    );
    let src = lead(&format!(
        "{}{}",
        column("text_last", "LastName", "text"),
        column("text_last", "FirstName", "text")
    ));
    assert_eq!(
        errors(&src),
        vec!["mapping.toml:12:10: column `text_last` is mapped twice on board 100".to_string()]
    );
    let src = lead(&format!(
        "{}{}",
        column("text_last", "LastName", "text"),
        column("text_title", "LastName", "text")
    ));
    assert_eq!(
        errors(&src),
        vec!["mapping.toml:13:9: field `LastName` is mapped twice on board 100".to_string()]
    );
}

#[test]
fn unknown_object_and_board() {
    let src = "[[board]]\nboard_id = \"999\"\nobject = \"Grant__c\"\nsalesforce_id_column = \"text_sfid\"\n";
    assert_eq!(
        errors(src),
        vec![
            "mapping.toml:2:12: Monday board 999 does not exist".to_string(),
            "mapping.toml:3:10: Salesforce object `Grant__c` does not exist (no describe for it)"
                .to_string(),
        ]
    );
}

#[test]
fn field_missing_from_describe() {
    assert_eq!(
        errors(&lead(&column("text_last", "Last_Name__c", "text"))),
        vec!["mapping.toml:9:9: field `Last_Name__c` does not exist on Lead".to_string()]
    );
}

#[test]
fn field_of_incompatible_type() {
    assert_eq!(
        errors(&lead(&column("checkbox", "Email", "checkbox"))),
        vec!["mapping.toml:9:9: field Lead.Email is of type `email`, which transform `checkbox` cannot write (expected boolean)".to_string()]
    );
    assert_eq!(
        errors(&lead(&column("person", "Linked_Account__c", "people"))),
        vec!["mapping.toml:9:9: field Lead.Linked_Account__c is of type `reference to Account`, which transform `people` cannot write (expected reference to User)".to_string()]
    );
}

#[test]
fn the_id_field_is_not_writable() {
    // The first version mapped the Id column onto `Id`; Salesforce rejects writes to it.
    assert_eq!(
        errors(&lead(&column("text_last", "Id", "text"))),
        vec!["mapping.toml:9:9: field Lead.Id cannot be written (createable and updateable are both false)".to_string()]
    );
}

#[test]
fn column_missing_from_board() {
    // The first version's Opportunity relation reused a column id of another board.
    let src = lead(&format!(
        "{}target_board = \"200\"\n",
        column(
            "board_relation_mks9cjfs",
            "Linked_Account__c",
            "board_relation"
        )
    ));
    assert_eq!(
        errors(&src),
        vec![
            "mapping.toml:8:10: column `board_relation_mks9cjfs` does not exist on board 100 (Leads)".to_string(),
            "mapping.toml:11:16: relation column `board_relation_mks9cjfs` targets board 200, which this mapping does not map".to_string(),
        ]
    );
}

#[test]
fn column_of_another_type() {
    assert_eq!(
        errors(&lead(&column("email", "Email", "text"))),
        vec!["mapping.toml:10:13: column `email` is of type `email`, but transform `text` reads `text` columns".to_string()]
    );
    let src = "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"status\"\nitem_name = { field = \"Company\" }\ndefaults = { LastName = \"x\" }\n";
    assert_eq!(
        errors(src),
        vec!["mapping.toml:4:24: column `status` is of type `status`, but transform `salesforce_id_column` reads `text` columns".to_string()]
    );
}

#[test]
fn unsupported_column_type() {
    assert_eq!(
        errors(&lead(&column("formula", "Score__c", "numbers"))),
        vec![
            "mapping.toml:8:10: unsupported column type `formula` for column `formula`".to_string()
        ]
    );
}

#[test]
fn picklist_value_that_does_not_exist() {
    let src = lead(&format!(
        "{}values = {{ \"New\" = \"Opened\" }}\n",
        column("status", "Status", "status")
    ));
    assert_eq!(
        errors(&src),
        vec![
            "mapping.toml:8:10: picklist value `Done` does not exist on Lead.Status".to_string(),
            "mapping.toml:8:10: picklist value `Lost` does not exist on Lead.Status".to_string(),
            "mapping.toml:11:20: picklist value `Opened` does not exist on Lead.Status".to_string(),
        ]
    );
    let src = "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\nitem_name = { field = \"Company\" }\ndefaults = { LastName = \"x\", Sector__c = \"Charity\" }\n";
    assert_eq!(
        errors(src),
        vec![
            "mapping.toml:6:42: picklist value `Charity` does not exist on Lead.Sector__c"
                .to_string()
        ]
    );
}

#[test]
fn label_that_does_not_exist_on_the_column() {
    let src = lead(&format!(
        "{}values = {{ \"Healthcare\" = \"Healthcare\" }}\n",
        column("dropdown", "Industry__c", "dropdown")
    ));
    assert_eq!(
        errors(&src),
        vec![
            "mapping.toml:11:27: label `Healthcare` does not exist on column `dropdown`"
                .to_string()
        ]
    );
}

#[test]
fn required_field_without_source_or_default() {
    let src =
        "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\n";
    assert_eq!(
        errors(src),
        vec![
            "mapping.toml:1:1: field Lead.LastName is required on create (createable, not nillable, no default) but has no source column and no default".to_string(),
            "mapping.toml:1:1: field Lead.Company is required on create (createable, not nillable, no default) but has no source column and no default".to_string(),
        ]
    );
}

#[test]
fn relation_targets() {
    let src = format!(
        "{}\n{}target_board = \"100\"\n",
        lead(""),
        column("account", "Linked_Account__c", "board_relation")
    );
    assert_eq!(
        errors(&src),
        vec![
            "mapping.toml:10:9: relation column `account` targets board 100 (Lead) but Lead.Linked_Account__c references Account".to_string(),
            "mapping.toml:12:16: relation column `account` connects board(s) 200 on Monday, not target board 100".to_string(),
        ]
    );
    let src = lead(&format!(
        "{}target_board = \"300\"\n",
        column("account", "Linked_Account__c", "board_relation")
    ));
    assert_eq!(
        errors(&src),
        vec![
            "mapping.toml:11:16: relation column `account` connects board(s) 200 on Monday, not target board 300".to_string(),
            "mapping.toml:11:16: relation column `account` targets board 300, which this mapping does not map".to_string(),
        ]
    );
    let src = lead(&column("account", "Linked_Account__c", "board_relation"));
    assert_eq!(
        errors(&src),
        vec!["mapping.toml:8:10: invalid column `account`: a board_relation column needs `target_board`".to_string()]
    );
}

#[test]
fn record_type_and_external_id() {
    let src = "[[board]]\nboard_id = \"100\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_sfid\"\nitem_name = { field = \"Company\" }\ndefaults = { LastName = \"x\" }\nrecord_type_id = \"0125e000000XXXXAAA\"\nexternal_id_field = \"Email\"\n";
    assert_eq!(
        errors(src),
        vec![
            "mapping.toml:7:18: record type `0125e000000XXXXAAA` does not exist on Lead"
                .to_string(),
            "mapping.toml:8:21: field Lead.Email is not an external id field (externalId is false)"
                .to_string(),
        ]
    );
}

#[test]
fn all_errors_are_reported_together() {
    let src = lead(&format!(
        "{}{}",
        column("nope", "LastName", "text"),
        column("email", "Nope__c", "email")
    ));
    let e = Mapping::parse(&src, "mapping.toml")
        .and_then(|m| validate(&m, &common::schema()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 problems in the mapping\n  mapping.toml:8:10: column `nope` does not exist on board 100 (Leads)\n  mapping.toml:13:9: field `Nope__c` does not exist on Lead"
    );
}

/// `[board.migration]` (lines 7 on): its problems are reported at their line and column.
#[test]
fn migration_settings() {
    let cols = format!(
        "{}values = {{ \"New\" = \"Open\", \"Done\" = \"Closed\", \"Lost\" = \"Closed\" }}\n{}{}",
        column("status", "Status", "status"),
        column("email", "Email", "email"),
        column("text_title", "Title", "text")
    );
    let ok = format!(
        "{cols}[board.migration]\nwhere = \"Status != 'Closed' AND Title LIKE 'Dir%' AND NumberOfEmployees > LAST_N_DAYS:30\"\nmatch_on = {{ column = \"email\", field = \"Email\" }}\nstrict = [\"status\"]\n"
    );
    assert_eq!(errors(&lead(&ok)), Vec::<String>::new());
    let m = Mapping::parse(&lead(&ok), "mapping.toml").unwrap();
    let s = &m.boards[0].migration;
    assert_eq!(s.match_on.as_ref().unwrap().field, "Email");
    assert!(s.is_strict("status") && !s.is_strict("email"));
    assert!(
        s.sets_relation("anything"),
        "no `relations`: every relation column"
    );

    // Lines: the 3 columns take lines 7-19, `[board.migration]` is line 20.
    let bad = format!(
        "{cols}[board.migration]\nwhere = \"Nope__c = 1 AND (Status = 'x'\"\nmatch_on = {{ column = \"no_such\", field = \"Emial\" }}\nrelations = [\"status\"]\nstrict = [\"text_title\"]\n"
    );
    assert_eq!(
        errors(&lead(&bad)),
        vec![
            "mapping.toml:21:9: invalid migration.where `Nope__c = 1 AND (Status = 'x'`: a `(` is not closed".to_string(),
            "mapping.toml:23:14: invalid migration.relations `status`: not a board_relation column of this board".to_string(),
            "mapping.toml:24:11: invalid migration.strict `text_title`: only status and dropdown columns have labels".to_string(),
        ]
    );
    // Well-formed, but naming fields and columns that do not exist: found by validation.
    let unknown = format!(
        "{cols}[board.migration]\nwhere = \"Nope__c = 1\"\nmatch_on = {{ column = \"no_such\", field = \"Emial\" }}\n"
    );
    assert_eq!(
        errors(&lead(&unknown)),
        vec![
            "mapping.toml:21:9: field `Nope__c` does not exist on Lead".to_string(),
            "mapping.toml:22:12: field `Emial` does not exist on Lead".to_string(),
            "mapping.toml:22:12: column `no_such` does not exist on board 100 (Leads)".to_string(),
        ]
    );
}
