//! The endpoint table: the single declaration of endpoints and routes. `template.yaml`, `events/`
//! and `local-api` follow it, and a test checks they agree.

use std::collections::HashMap;

use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::{ApiError, RequestMeta};

use crate::endpoints::*;

/// Declares every endpoint once: its variant, its name (the binary's, and
/// the template function's `<Name>Function`), the connections it opens at
/// cold start, its handler and its routes. The enum, `ALL`, `name()`, the
/// flags, `ROUTES` and the dispatch are all generated from this one table.
macro_rules! endpoints {
    ($(
        $variant:ident = $name:literal, uses [$($port:ident),*], $handler:path,
            routes [$($method:literal $path:literal),+ $(,)?];
    )+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Endpoint {
            $($variant,)+
        }

        impl Endpoint {
            pub const ALL: &'static [Endpoint] = &[$(Self::$variant),+];

            /// The binary's name, and the function's in `template.yaml` (`<Name>Function`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)+
                }
            }

            /// The connections the endpoint's function opens during init,
            /// which are also what its template policy grants.
            // An endpoint that uses everything spells every field out.
            #[allow(clippy::needless_update)]
            pub fn uses(self) -> Uses {
                match self {
                    $(Self::$variant => Uses { $($port: true,)* ..Uses::NOTHING },)+
                }
            }

            /// Runs the endpoint's handler: every handler takes the same
            /// three arguments, so this match is generated too.
            pub(crate) async fn call(
                self,
                app: &App,
                meta: &RequestMeta,
                request: Request,
            ) -> Result<Response<Body>, ApiError> {
                match self {
                    $(Self::$variant => $handler(app, meta, request).await,)+
                }
            }
        }

        pub const ROUTES: &[Route] = &[
            $($(Route { method: $method, path: $path, endpoint: Endpoint::$variant },)+)+
        ];
    };
}

endpoints! {
    Status = "status", uses [], status::handle,
        routes ["GET" "/status"];
    Register = "register", uses [store, mail], register::handle,
        routes ["POST" "/v1/users"];
    Confirm = "confirm", uses [store], confirm::handle,
        routes ["GET" "/v1/users/confirm/{code}", "POST" "/v1/users/confirm"];
    ResendConfirmation = "resend-confirmation", uses [store, mail], resend_confirmation::handle,
        routes ["POST" "/v1/users/confirm/resend"];
    EmailExists = "email-exists", uses [store], email_exists::handle,
        routes ["GET" "/v1/users/exists"];
    ForgotPassword = "forgot-password", uses [store, mail], password_reset::forgot,
        routes ["POST" "/v1/password/forgot"];
    ResetPassword = "reset-password", uses [store, mail], password_reset::reset,
        routes ["POST" "/v1/password/reset"];
    Me = "me", uses [store], me::get,
        routes ["GET" "/v1/users/me"];
    UpdateMe = "update-me", uses [store], me::patch,
        routes ["PATCH" "/v1/users/me"];
    ChangePassword = "change-password", uses [store, mail], me::password,
        routes ["POST" "/v1/users/me/password"];
    ChangeEmail = "change-email", uses [store, mail], email_change::request,
        routes ["POST" "/v1/users/me/email"];
    ConfirmEmailChange = "confirm-email-change", uses [store, mail], email_change::confirm,
        routes ["POST" "/v1/users/me/email/confirm"];
    ListFactors = "list-factors", uses [store], factors::list,
        routes ["GET" "/v1/users/me/factors"];
    EnrolTotp = "enrol-totp", uses [store], factors::enrol_totp,
        routes ["POST" "/v1/users/me/factors/totp"];
    VerifyTotp = "verify-totp", uses [store, mail], factors::verify_totp,
        routes ["POST" "/v1/users/me/factors/totp/{id}/verify"];
    DeleteFactor = "delete-factor", uses [store, mail], factors::delete,
        routes ["DELETE" "/v1/users/me/factors/{id}"];
    RenewRecoveryCodes = "renew-recovery-codes", uses [store, mail], factors::renew_recovery_codes,
        routes ["POST" "/v1/users/me/recovery-codes"];
    PasskeyRegistrationOptions = "passkey-registration-options", uses [store], passkeys::registration_options,
        routes ["POST" "/v1/users/me/passkeys/options"];
    AddPasskey = "add-passkey", uses [store, mail], passkeys::add,
        routes ["POST" "/v1/users/me/passkeys"];
    ListPasskeys = "list-passkeys", uses [store], passkeys::list,
        routes ["GET" "/v1/users/me/passkeys"];
    RenamePasskey = "rename-passkey", uses [store], passkeys::rename,
        routes ["PATCH" "/v1/users/me/passkeys/{id}"];
    DeletePasskey = "delete-passkey", uses [store, mail], passkeys::delete,
        routes ["DELETE" "/v1/users/me/passkeys/{id}"];
    DeleteAccount = "delete-account", uses [store, mail], account_deletion::delete_own,
        routes ["DELETE" "/v1/users/me"];
    ExportAccount = "export-account", uses [store], export::handle,
        routes ["GET" "/v1/users/me/export"];
    SecurityLog = "security-log", uses [store], security_log::own,
        routes ["GET" "/v1/users/me/events"];
    LinkIdentity = "link-identity", uses [store], federation::link,
        routes ["POST" "/v1/users/me/identities/{provider}/link"];
    ListIdentities = "list-identities", uses [store], federation::list,
        routes ["GET" "/v1/users/me/identities"];
    UnlinkIdentity = "unlink-identity", uses [store], federation::unlink,
        routes ["DELETE" "/v1/users/me/identities/{id}"];
    ListSessions = "list-sessions", uses [store], sessions::list,
        routes ["GET" "/v1/users/me/sessions"];
    EndSession = "end-session", uses [store], sessions::end,
        routes ["DELETE" "/v1/users/me/sessions/{id}"];
    AddAddress = "add-address", uses [store], addresses::add,
        routes ["POST" "/v1/users/me/addresses"];
    DeleteAddress = "delete-address", uses [store], addresses::delete,
        routes ["DELETE" "/v1/users/me/addresses/{address_id}"];
    GetUser = "get-user", uses [store], users::get,
        routes ["GET" "/v1/users/{id}"];
    AdminGetUser = "admin-get-user", uses [store], users::admin_get,
        routes ["GET" "/v1/admin/users/{id}"];
    AdminUpdateUser = "admin-update-user", uses [store], users::admin_patch,
        routes ["PATCH" "/v1/admin/users/{id}"];
    AdminResetFactors = "admin-reset-factors", uses [store, mail], factors::admin_reset,
        routes ["DELETE" "/v1/admin/users/{id}/factors"];
    AdminEndSessions = "admin-end-sessions", uses [store], sessions::admin_end_all,
        routes ["DELETE" "/v1/admin/users/{id}/sessions"];
    AdminDeleteUser = "admin-delete-user", uses [store, mail], account_deletion::delete_as_admin,
        routes ["DELETE" "/v1/admin/users/{id}"];
    AdminSecurityLog = "admin-security-log", uses [store], security_log::of_user,
        routes ["GET" "/v1/admin/users/{id}/events"];
    AdminSearchUsers = "admin-search-users", uses [store], users::admin_search,
        routes ["GET" "/v1/admin/users"];
    ConfirmationPage = "confirmation-page", uses [store, mail], pages::confirmation,
        routes ["GET" "/pages/confirmation", "POST" "/pages/confirmation"];
    ResetPasswordPage = "reset-password-page", uses [store, mail], pages::reset,
        routes ["GET" "/pages/reset-password", "POST" "/pages/reset-password"];
    EmailSignInPage = "email-sign-in-page", uses [], pages::email_sign_in,
        routes ["GET" "/pages/email-sign-in"];
    EmailChangePage = "email-change-page", uses [], pages::email_change,
        routes ["GET" "/pages/email-change"];
    PasskeysPage = "passkeys-page", uses [], pages::passkeys,
        routes ["GET" "/pages/passkeys"];
    PageAssets = "page-assets", uses [], pages::asset,
        routes ["GET" "/pages/assets/{file}"];
    Login = "login", uses [store], login::handle,
        routes ["POST" "/v1/auth/login"];
    Mfa = "mfa", uses [store], mfa::handle,
        routes ["POST" "/v1/auth/mfa"];
    PasskeySignInOptions = "passkey-sign-in-options", uses [store], passkeys::sign_in_options,
        routes ["POST" "/v1/auth/passkey/options"];
    PasskeySignIn = "passkey-sign-in", uses [store], passkeys::sign_in,
        routes ["POST" "/v1/auth/passkey"];
    EmailCode = "email-code", uses [store, mail], email_code::send,
        routes ["POST" "/v1/auth/email-code"];
    EmailCodeVerify = "email-code-verify", uses [store], email_code::sign_in,
        routes ["POST" "/v1/auth/email-code/verify"];
    OidcAuthorize = "oidc-authorize", uses [store], federation::authorize,
        routes ["GET" "/v1/auth/oidc/{provider}/authorize"];
    OidcCallback = "oidc-callback", uses [store], federation::callback,
        routes ["GET" "/v1/auth/oidc/{provider}/callback", "POST" "/v1/auth/oidc/{provider}/callback"];
    OidcToken = "oidc-token", uses [store], federation::token,
        routes ["POST" "/v1/auth/oidc/token"];
    Refresh = "refresh", uses [store], refresh::handle,
        routes ["POST" "/v1/auth/refresh"];
    Logout = "logout", uses [store], logout::handle,
        routes ["POST" "/v1/auth/logout"];
    TokenInfo = "token-info", uses [store], token_info::handle,
        routes ["GET" "/v1/auth/token-info"];
    ClientToken = "client-token", uses [store], client_token::handle,
        routes ["POST" "/v1/auth/token"];
    PublicKey = "public-key", uses [], keys::public_key,
        routes ["GET" "/v1/auth/public-key"];
    Jwks = "jwks", uses [], keys::jwks,
        routes ["GET" "/.well-known/jwks.json"];
    OpenidConfiguration = "openid-configuration", uses [], keys::openid_configuration,
        routes ["GET" "/.well-known/openid-configuration"];
}

/// The connections an endpoint opens during init (DNS, TCP and TLS paid
/// in the cold start rather than by its first request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    /// The table: its function also holds table permissions.
    pub store: bool,
    /// SES: its function also holds the sending permission.
    pub mail: bool,
}

impl Uses {
    const NOTHING: Uses = Uses {
        store: false,
        mail: false,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    /// API Gateway path template: `{name}` matches one segment.
    pub path: &'static str,
    pub endpoint: Endpoint,
}

impl Route {
    /// `METHOD /path`, as API Gateway's `routeKey`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    Found {
        route: &'static Route,
        path_parameters: HashMap<String, String>,
    },
    MethodNotAllowed,
    NotFound,
}

/// Finds the route as API Gateway would: literal segments beat parameters.
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut best: Option<(&'static Route, HashMap<String, String>)> = None;
    let mut path_matched = false;
    for route in ROUTES {
        let Some(parameters) = match_template(route.path, &segments) else {
            continue;
        };
        path_matched = true;
        if route.method != method {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(_, known)| parameters.len() < known.len())
        {
            best = Some((route, parameters));
        }
    }
    match best {
        Some((route, path_parameters)) => RouteMatch::Found {
            route,
            path_parameters,
        },
        None if path_matched => RouteMatch::MethodNotAllowed,
        None => RouteMatch::NotFound,
    }
}

fn match_template(template: &str, segments: &[&str]) -> Option<HashMap<String, String>> {
    let parts: Vec<&str> = template.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut parameters = HashMap::new();
    for (part, segment) in parts.iter().zip(segments) {
        match part
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
        {
            Some(name) if !segment.is_empty() => {
                parameters.insert(name.to_owned(), (*segment).to_owned());
            }
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    Some(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_routes_and_parameters_match() {
        let RouteMatch::Found {
            route,
            path_parameters,
        } = match_route("GET", "/v1/users/confirm/abc")
        else {
            panic!("no match");
        };
        assert_eq!(route.endpoint, Endpoint::Confirm);
        assert_eq!(path_parameters.get("code").map(String::as_str), Some("abc"));
        let RouteMatch::Found {
            route,
            path_parameters,
        } = match_route("POST", "/v1/users/confirm")
        else {
            panic!("no match");
        };
        assert_eq!(route.path, "/v1/users/confirm");
        assert!(path_parameters.is_empty());
    }

    #[test]
    fn a_known_path_with_another_method_is_not_allowed_and_others_are_not_found() {
        assert_eq!(
            match_route("DELETE", "/v1/users"),
            RouteMatch::MethodNotAllowed
        );
        assert_eq!(match_route("GET", "/v1/nothing"), RouteMatch::NotFound);
        assert_eq!(
            match_route("PUT", "/v1/users/me/"),
            RouteMatch::MethodNotAllowed
        );
    }

    #[test]
    fn literal_segments_beat_parameters_as_in_api_gateway() {
        let endpoint = |method, path| match match_route(method, path) {
            RouteMatch::Found { route, .. } => Some(route.endpoint),
            _ => None,
        };
        assert_eq!(endpoint("GET", "/v1/users/me"), Some(Endpoint::Me));
        assert_eq!(
            endpoint("GET", "/v1/users/exists"),
            Some(Endpoint::EmailExists)
        );
        assert_eq!(
            endpoint("POST", "/v1/users/confirm/resend"),
            Some(Endpoint::ResendConfirmation)
        );
        assert_eq!(
            endpoint("GET", "/v1/users/confirm/resend"),
            Some(Endpoint::Confirm)
        );
        assert_eq!(
            endpoint("GET", "/v1/users/confirm"),
            Some(Endpoint::GetUser)
        );
    }

    #[test]
    fn names_are_distinct_and_every_route_is_unique() {
        let names: std::collections::HashSet<_> = Endpoint::ALL
            .iter()
            .map(|endpoint| endpoint.name())
            .collect();
        assert_eq!(names.len(), Endpoint::ALL.len());
        let keys: std::collections::HashSet<_> = ROUTES.iter().map(Route::key).collect();
        assert_eq!(keys.len(), ROUTES.len());
    }
}
