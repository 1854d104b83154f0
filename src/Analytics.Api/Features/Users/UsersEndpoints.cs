using Analytics.Api.Infrastructure.Auth;

namespace Analytics.Api.Features.Users;

public static class UsersEndpoints
{
    /// <summary>The admin's user management, under <c>/api/v1/admin</c>; every route needs the admin role.</summary>
    public static IEndpointRouteBuilder MapUsers(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/v1/admin").WithTags("Admin: users").RequireAuthorization(Policies.Admin);
        ListUsers.ListUsers.Map(admin);
        GetUser.GetUser.Map(admin);
        UpdateUser.UpdateUser.Map(admin);
        UserActivity.UserActivity.MapAdmin(admin);
        return app;
    }
}
