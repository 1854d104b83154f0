using Analytics.Api.Features.Health;
using Analytics.Api.Infrastructure.Database;
using Analytics.Api.Infrastructure.Hosting;
using Analytics.Api.Infrastructure.Http;
using Analytics.Api.Infrastructure.OpenApi;
using Analytics.Api.Infrastructure.Pipeline;

var builder = WebApplication.CreateBuilder(args);
builder.AddHttpApi();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddDatabase(builder.Configuration);
builder.Services.AddPipeline(typeof(Program).Assembly);

var app = builder.Build();
app.UseHttpApi();
app.MapApiDocuments();
app.MapHealth();

return await app.RunCommandAsync(args);
