global using Analytics.Tests.Shared;
global using Shouldly;
global using Xunit;
