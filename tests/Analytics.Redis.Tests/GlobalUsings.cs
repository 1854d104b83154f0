global using Analytics.Tests.Shared;
global using Xunit;
