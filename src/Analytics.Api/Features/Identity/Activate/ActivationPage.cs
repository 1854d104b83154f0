namespace Analytics.Api.Features.Identity.Activate;

/// <summary>
/// <c>GET /activate</c>: the page the activation e-mail's link opens when no front-end is configured
/// (<c>Activation:LinkBaseUrl</c>'s default). It sends the link's token to <c>POST /api/v1/auth/activate</c> when the
/// reader presses the button, not on load: mail scanners that open links must not use up the token. Without a token
/// it asks for the e-mail and the 6-digit code instead. A front-end of one's own replaces it by setting the option.
/// </summary>
internal static class ActivationPage
{
    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="no-referrer" />
          <title>Activate your Analytics account</title>
          <style>
            body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5; }
            label, input, button { display: block; width: 100%; box-sizing: border-box; margin-top: .5rem; font-size: 1rem; }
            input, button { padding: .5rem; }
            #result { margin-top: 1rem; }
            .error { color: #b00020; }
          </style>
        </head>
        <body>
          <h1>Activate your account</h1>
          <form id="form">
            <div id="by-code" hidden>
              <label>E-mail <input id="email" type="email" autocomplete="email" /></label>
              <label>6-digit code from the e-mail <input id="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" /></label>
            </div>
            <button type="submit">Activate</button>
          </form>
          <p id="result" role="status"></p>
          <script>
            const token = new URLSearchParams(location.search).get("token");
            const form = document.getElementById("form"), result = document.getElementById("result");
            if (!token) document.getElementById("by-code").hidden = false;
            form.addEventListener("submit", async (e) => {
              e.preventDefault();
              const body = token ? { token } : { email: document.getElementById("email").value, code: document.getElementById("code").value };
              result.className = ""; result.textContent = "Activating…";
              try {
                const response = await fetch("/api/v1/auth/activate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
                const answer = await response.json().catch(() => ({}));
                if (response.ok) {
                  form.hidden = true;
                  result.textContent = "Done: " + answer.email + " is confirmed and the account is active. You can sign in now.";
                } else {
                  result.className = "error";
                  const errors = answer.errors ? " " + Object.values(answer.errors).flat().join(" ") : "";
                  result.textContent = (answer.detail || answer.title || "Activation failed (" + response.status + ").") + errors;
                }
              } catch {
                result.className = "error"; result.textContent = "The server could not be reached; try again.";
              }
            });
          </script>
        </body>
        </html>
        """;

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder app) =>
        app.MapGet("/activate", () => TypedResults.Content(Page, "text/html; charset=utf-8"))
            .AllowAnonymous()
            .ExcludeFromDescription();
}
