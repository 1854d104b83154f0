using Analytics.Api.Features.Dev;
using Analytics.Api.Features.Health;
using Analytics.Api.Features.Identity;
using Analytics.Api.Features.Users;
using Analytics.Api.Infrastructure.Auth;
using Analytics.Api.Infrastructure.Caching;
using Analytics.Api.Infrastructure.Clients;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Email;
using Analytics.Api.Infrastructure.Hosting;
using Analytics.Api.Infrastructure.Http;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Pipeline;

var builder = WebApplication.CreateBuilder(args);
builder.AddHttpApi();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddDatabase(builder.Configuration);
builder.Services.AddStores(builder.Configuration);
builder.Services.AddPipeline(typeof(Program).Assembly);
builder.Services.AddTrustedProxies(builder.Configuration);
builder.Services.AddAuth(builder.Configuration, builder.Environment);
builder.Services.AddEmail(builder.Configuration);
builder.Services.AddIdentity(builder.Configuration);

var app = builder.Build();
app.UseForwardedHeaders();
app.UseHttpApi();
app.UseAuthentication();
app.UseAuthorization();
app.MapApiDocuments();
app.MapHealth();
app.MapIdentity();
app.MapUsers();
app.MapDevMailbox();

return await app.RunCommandAsync(args);
