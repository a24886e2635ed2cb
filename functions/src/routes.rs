//! The route table: the single list of endpoints. `template.yaml`, `events/`
//! and `local-api` follow it, and a test checks they agree.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Status,
    Register,
    Confirm,
    ResendConfirmation,
    EmailExists,
    ForgotPassword,
    ResetPassword,
    Me,
    UpdateMe,
    ChangePassword,
    AddAddress,
    DeleteAddress,
    GetUser,
    AdminUpdateUser,
    ConfirmationPage,
    ResetPasswordPage,
    PageAssets,
    Login,
    Refresh,
    Logout,
    TokenInfo,
    ClientToken,
    PublicKey,
    Jwks,
    OpenidConfiguration,
}

impl Endpoint {
    pub const ALL: [Endpoint; 25] = [
        Self::Status,
        Self::Register,
        Self::Confirm,
        Self::ResendConfirmation,
        Self::EmailExists,
        Self::ForgotPassword,
        Self::ResetPassword,
        Self::Me,
        Self::UpdateMe,
        Self::ChangePassword,
        Self::AddAddress,
        Self::DeleteAddress,
        Self::GetUser,
        Self::AdminUpdateUser,
        Self::ConfirmationPage,
        Self::ResetPasswordPage,
        Self::PageAssets,
        Self::Login,
        Self::Refresh,
        Self::Logout,
        Self::TokenInfo,
        Self::ClientToken,
        Self::PublicKey,
        Self::Jwks,
        Self::OpenidConfiguration,
    ];

    /// The binary's name, and the function's in `template.yaml` (`<Name>Function`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Register => "register",
            Self::Confirm => "confirm",
            Self::ResendConfirmation => "resend-confirmation",
            Self::EmailExists => "email-exists",
            Self::ForgotPassword => "forgot-password",
            Self::ResetPassword => "reset-password",
            Self::Me => "me",
            Self::UpdateMe => "update-me",
            Self::ChangePassword => "change-password",
            Self::AddAddress => "add-address",
            Self::DeleteAddress => "delete-address",
            Self::GetUser => "get-user",
            Self::AdminUpdateUser => "admin-update-user",
            Self::ConfirmationPage => "confirmation-page",
            Self::ResetPasswordPage => "reset-password-page",
            Self::PageAssets => "page-assets",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::Logout => "logout",
            Self::TokenInfo => "token-info",
            Self::ClientToken => "client-token",
            Self::PublicKey => "public-key",
            Self::Jwks => "jwks",
            Self::OpenidConfiguration => "openid-configuration",
        }
    }
}

impl Endpoint {
    /// Whether the endpoint reads or writes the table (its function opens
    /// the DynamoDB connection during init, and its policy grants the table).
    pub fn uses_store(self) -> bool {
        !matches!(
            self,
            Self::Status
                | Self::PublicKey
                | Self::Jwks
                | Self::OpenidConfiguration
                | Self::PageAssets
        )
    }

    /// Whether the endpoint sends email (its function opens the SES
    /// connection during init, and its policy grants sending).
    pub fn sends_mail(self) -> bool {
        matches!(
            self,
            Self::Register
                | Self::ResendConfirmation
                | Self::ForgotPassword
                | Self::ResetPassword
                | Self::ChangePassword
                | Self::ConfirmationPage
                | Self::ResetPasswordPage
        )
    }
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

const fn route(method: &'static str, path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        method,
        path,
        endpoint,
    }
}

pub const ROUTES: &[Route] = &[
    route("GET", "/status", Endpoint::Status),
    route("POST", "/v1/users", Endpoint::Register),
    route("GET", "/v1/users/confirm/{code}", Endpoint::Confirm),
    route("POST", "/v1/users/confirm", Endpoint::Confirm),
    route(
        "POST",
        "/v1/users/confirm/resend",
        Endpoint::ResendConfirmation,
    ),
    route("GET", "/v1/users/exists", Endpoint::EmailExists),
    route("POST", "/v1/password/forgot", Endpoint::ForgotPassword),
    route("POST", "/v1/password/reset", Endpoint::ResetPassword),
    route("GET", "/v1/users/me", Endpoint::Me),
    route("PATCH", "/v1/users/me", Endpoint::UpdateMe),
    route("POST", "/v1/users/me/password", Endpoint::ChangePassword),
    route("POST", "/v1/users/me/addresses", Endpoint::AddAddress),
    route(
        "DELETE",
        "/v1/users/me/addresses/{address_id}",
        Endpoint::DeleteAddress,
    ),
    route("GET", "/v1/users/{id}", Endpoint::GetUser),
    route("PATCH", "/v1/admin/users/{id}", Endpoint::AdminUpdateUser),
    route("GET", "/pages/confirmation", Endpoint::ConfirmationPage),
    route("POST", "/pages/confirmation", Endpoint::ConfirmationPage),
    route("GET", "/pages/reset-password", Endpoint::ResetPasswordPage),
    route("POST", "/pages/reset-password", Endpoint::ResetPasswordPage),
    route("GET", "/pages/assets/{file}", Endpoint::PageAssets),
    route("POST", "/v1/auth/login", Endpoint::Login),
    route("POST", "/v1/auth/refresh", Endpoint::Refresh),
    route("POST", "/v1/auth/logout", Endpoint::Logout),
    route("GET", "/v1/auth/token-info", Endpoint::TokenInfo),
    route("POST", "/v1/auth/token", Endpoint::ClientToken),
    route("GET", "/v1/auth/public-key", Endpoint::PublicKey),
    route("GET", "/.well-known/jwks.json", Endpoint::Jwks),
    route(
        "GET",
        "/.well-known/openid-configuration",
        Endpoint::OpenidConfiguration,
    ),
];

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
    fn every_endpoint_has_a_route() {
        for endpoint in Endpoint::ALL {
            assert!(
                ROUTES.iter().any(|route| route.endpoint == endpoint),
                "{endpoint:?}"
            );
        }
    }
}
