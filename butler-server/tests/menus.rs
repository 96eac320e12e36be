//! The console's menu follows the library's policy table: each user sees
//! the entries they may open, and the users page can give every role,
//! Viewer included, but never none.

mod common;

use butler::auth::{Actor, Role};
use common::start;

/// The console's requests page as `user` sees it.
async fn menu_of(s: &mut common::TestServer, user: &str) -> String {
    let login = s.browser(user).await;
    let page = s.page(&login, "/requests").await;
    let start = page.find("<nav").unwrap_or(0);
    let end = page.find("</nav>").unwrap_or(page.len());
    page[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_sees_the_menu_entries_they_may_open() {
    let mut s = start(butler_server::HttpSettings::default()).await;
    let admin = Actor::trusted("admin", [Role::Admin]).unwrap();
    let pw = "vic's long enough password";
    let users = s.state.butler().users();
    users.add(&admin, "vic", [Role::Viewer], pw).await.unwrap();
    s.passwords.insert("vic".into(), pw.into());
    let cases = [
        ("ana", true, false, false),
        ("bea", true, false, false),
        ("olga", false, true, false),
        ("vic", false, true, false),
        ("admin", false, true, true),
    ];
    for (user, new_request, groups, users_page) in cases {
        let nav = menu_of(&mut s, user).await;
        assert_eq!(nav.contains("/requests/new"), new_request, "{user}: {nav}");
        assert_eq!(nav.contains("/groups"), groups, "{user}: {nav}");
        assert_eq!(nav.contains("/admin/users"), users_page, "{user}: {nav}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_page_gives_the_viewer_role_and_refuses_a_user_without_one() {
    let s = start(butler_server::HttpSettings::default()).await;
    let login = s.browser("admin").await;
    let page = s.page(&login, "/admin/users").await;
    assert!(page.contains("value=\"viewer\""), "{page}");
    // Through the API: a user with no role is refused, naming why.
    let admin = s.script("admin").await;
    let none = s
        .post(
            &admin,
            "/api/users",
            serde_json::json!({"name": "nemo", "roles": [], "password": "nemo's long password"}),
            None,
        )
        .await;
    assert_eq!(
        none.status,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        none.body
    );
    assert_eq!(none.code(), "no_role");
}

/// Cancelling a request is named as what it is and asks to be confirmed;
/// "Cancelar" alone stays the harmless leaving of the edit form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_request_says_so_and_asks_for_confirmation() {
    let s = start(butler_server::HttpSettings::default()).await;
    let ana = s.browser("ana").await;
    let made = s
        .post(&ana, "/api/requests", common::spec("web09"), None)
        .await;
    let id = made.body["id"].as_u64().unwrap_or(0);
    let page = s.page(&ana, &format!("/requests/{id}")).await;
    let form = page
        .split("<form")
        .find(|f| f.contains("/act/cancel"))
        .unwrap_or_else(|| panic!("no cancel form: {page}"));
    assert!(form.contains("id=\"confirm-cancel\" required"), "{form}");
    assert!(
        form.contains("Cancelar la solicitud") || form.contains("Cancel the request"),
        "{form}"
    );
    let edit = s.page(&ana, &format!("/requests/{id}/edit")).await;
    assert!(
        edit.contains(&format!("<a href=\"/requests/{id}\">Cancelar</a>"))
            || edit.contains(&format!("<a href=\"/requests/{id}\">Cancel</a>")),
        "{edit}"
    );
}
