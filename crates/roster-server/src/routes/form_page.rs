//! The hosted form page: `GET /forms/{form_id}` renders the form (server-side HTML, no
//! external assets, labels and error messages tied to their inputs, usable by keyboard and
//! at phone width); `POST /forms/{form_id}` validates, stores and confirms, or shows the
//! form again with every problem. A honeypot field and a per-IP rate limit keep bots out.

use std::{collections::BTreeMap, fmt::Write, net::SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Path, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use roster_domain::{
    AppId, ContactFilter, ContactId, ContactIdentity, Page, Phone,
    engagement::{FieldError, FieldType, Form, HONEYPOT_FIELD},
    messaging::template::escape_html as escape,
};
use roster_store::{OptinRequest, Trust};

use crate::{error::ApiError, state::AppState};

/// The form, empty.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some((_, form)) = state.store.form_by_public_id(&id).await? else {
        return Ok(not_found());
    };
    Ok(page(
        StatusCode::OK,
        &form.name,
        &render_form(&form, &BTreeMap::new(), &[]),
    ))
}

/// A submission from the page.
pub async fn submit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some((app, form)) = state.store.form_by_public_id(&id).await? else {
        return Ok(not_found());
    };
    if !state.form_limiter.allows(peer.ip()) {
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            &form.name,
            "<h1>Too many submissions</h1><p role=\"alert\">Please wait a minute and try again.</p>",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return Ok(response);
    }
    let values: BTreeMap<String, String> =
        crate::protection::form::parse(&body)?.into_iter().collect();
    // A bot filled the field people never see: it is told "thank you", and nothing is kept.
    if values
        .get(HONEYPOT_FIELD)
        .is_some_and(|v| !v.trim().is_empty())
    {
        return Ok(page(StatusCode::OK, &form.name, &thanks(&form)));
    }
    match form.validate(&values, state.settings.default_region, false) {
        Ok(submission) => {
            let (_, contact) = state
                .store
                .submit_form(&app, &form, &submission, Trust::Public)
                .await?;
            if let (Some(contact), Some(phone), true) = (
                contact,
                submission.contact.phone.clone(),
                submission.contact.sms_optin,
            ) {
                ask_for_optin(&state, &app, contact, phone).await;
            }
            Ok(page(StatusCode::OK, &form.name, &thanks(&form)))
        }
        Err(errors) => Ok(page(
            StatusCode::BAD_REQUEST,
            &form.name,
            &render_form(&form, &values, &errors),
        )),
    }
}

/// The page's consent box starts a double opt-in: whoever typed the number cannot opt
/// it in alone; the phone's owner replies YES. A number that said STOP is not asked.
async fn ask_for_optin(state: &AppState, app: &AppId, contact: ContactId, phone: Phone) {
    let request = async {
        // Only the contact's own number: a public form cannot give a member a new one.
        let filter = ContactFilter {
            id: Some(contact.clone()),
            ..ContactFilter::default()
        };
        let found = state
            .store
            .find_contacts(app, &filter, Page::default())
            .await?;
        if found.first().and_then(|c| c.phone.as_ref()) != Some(&phone) {
            return Ok(());
        }
        let settings = state.outbox.app_settings(app).await?;
        let request = OptinRequest {
            identity: ContactIdentity {
                id: Some(contact),
                ..ContactIdentity::default()
            },
            dob: None,
            min_age: settings.min_age(),
            message: settings.optin_message(&phone)?,
            phone,
        };
        state.outbox.start_optin(app, &request).await?;
        Ok::<(), ApiError>(())
    };
    if let Err(err) = request.await {
        tracing::info!(error = %err, "form consent: no opt-in request sent");
    }
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Form not found",
        "<h1>Form not found</h1><p>This form does not exist or was removed.</p>",
    )
}

fn thanks(form: &Form) -> String {
    format!(
        "<h1>Thank you</h1><p role=\"status\">Your response to {} was received.</p>",
        escape(&form.name)
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;padding:1rem;line-height:1.5;color:#1a1a1a}\
main{max-width:36rem;margin:0 auto}.field{margin:0 0 1rem}label{display:block;font-weight:600}\
input,select{box-sizing:border-box;width:100%;font-size:1rem;padding:.6rem;border:1px solid #555;border-radius:4px}\
input[type=checkbox]{width:auto;margin-right:.5rem}.check label{display:inline;font-weight:400}\
[aria-invalid=true]{border:2px solid #b00020}.error{color:#b00020;margin:.25rem 0 0}\
#errors{border:2px solid #b00020;padding:.5rem 1rem;margin-bottom:1rem}\
button{font-size:1rem;padding:.7rem 1.5rem;background:#1a4fd6;color:#fff;border:0;border-radius:4px}\
:focus{outline:3px solid #ffbf47;outline-offset:2px}\
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}";

fn page(status: StatusCode, title: &str, content: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{content}</main></body></html>",
        escape(title)
    );
    (status, Html(html)).into_response()
}

fn render_form(form: &Form, values: &BTreeMap<String, String>, errors: &[FieldError]) -> String {
    let mut html = format!("<h1>{}</h1>", escape(&form.name));
    if !errors.is_empty() {
        let _ = write!(
            html,
            "<div id=\"errors\" role=\"alert\" tabindex=\"-1\"><p>Please correct {} {}:</p><ul>",
            errors.len(),
            if errors.len() == 1 {
                "problem"
            } else {
                "problems"
            }
        );
        for error in errors {
            let _ = write!(
                html,
                "<li><a href=\"#f-{}\">{}</a></li>",
                escape(&error.field),
                escape(&error.message)
            );
        }
        html.push_str("</ul></div>");
    }
    let _ = write!(
        html,
        "<form method=\"post\" action=\"/forms/{}\" novalidate>",
        escape(&form.public_id)
    );
    for field in &form.fields {
        let value = values.get(&field.name).map(String::as_str).unwrap_or("");
        let error = errors.iter().find(|e| e.field == field.name);
        html.push_str(&render_field(field, value, error));
    }
    let _ = write!(
        html,
        "<div class=\"hp\" aria-hidden=\"true\"><label for=\"f-{HONEYPOT_FIELD}\">Leave this empty</label>\
         <input id=\"f-{HONEYPOT_FIELD}\" name=\"{HONEYPOT_FIELD}\" type=\"text\" tabindex=\"-1\" autocomplete=\"off\"></div>\
         <button type=\"submit\">Submit</button></form>"
    );
    html
}

fn render_field(
    field: &roster_domain::engagement::FormField,
    value: &str,
    error: Option<&FieldError>,
) -> String {
    let name = escape(&field.name);
    let label = escape(&field.label);
    let star = if field.required {
        " <span aria-hidden=\"true\">*</span>"
    } else {
        ""
    };
    let mut attrs = String::new();
    if field.required {
        attrs.push_str(" required aria-required=\"true\"");
    }
    let mut message = String::new();
    if let Some(error) = error {
        let _ = write!(
            attrs,
            " aria-invalid=\"true\" aria-describedby=\"e-{name}\""
        );
        let _ = write!(
            message,
            "<p class=\"error\" id=\"e-{name}\">{}</p>",
            escape(&error.message)
        );
    }
    match field.kind {
        FieldType::Checkbox => {
            let checked = if matches!(value, "on" | "true" | "1" | "yes") {
                " checked"
            } else {
                ""
            };
            format!(
                "<div class=\"field check\"><input id=\"f-{name}\" name=\"{name}\" type=\"checkbox\" value=\"on\"{checked}{attrs}>\
                 <label for=\"f-{name}\">{label}{star}</label>{message}</div>"
            )
        }
        FieldType::Select => {
            let mut options = String::from("<option value=\"\">Choose one</option>");
            for option in &field.options {
                let selected = if option == value { " selected" } else { "" };
                let option = escape(option);
                let _ = write!(
                    options,
                    "<option value=\"{option}\"{selected}>{option}</option>"
                );
            }
            format!(
                "<div class=\"field\"><label for=\"f-{name}\">{label}{star}</label>\
                 <select id=\"f-{name}\" name=\"{name}\"{attrs}>{options}</select>{message}</div>"
            )
        }
        kind => {
            let (input_type, autocomplete) = match kind {
                FieldType::Email => ("email", " autocomplete=\"email\""),
                FieldType::Phone => ("tel", " autocomplete=\"tel\""),
                FieldType::Date => ("date", ""),
                FieldType::Number => ("number", " inputmode=\"decimal\" step=\"any\""),
                _ => match field.name.as_str() {
                    "first_name" => ("text", " autocomplete=\"given-name\""),
                    "last_name" => ("text", " autocomplete=\"family-name\""),
                    _ => ("text", ""),
                },
            };
            format!(
                "<div class=\"field\"><label for=\"f-{name}\">{label}{star}</label>\
                 <input id=\"f-{name}\" name=\"{name}\" type=\"{input_type}\" value=\"{}\"{autocomplete}{attrs}>{message}</div>",
                escape(value)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use roster_domain::messaging::template::escape_html as escape;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
