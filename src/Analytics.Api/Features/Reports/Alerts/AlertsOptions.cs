namespace Analytics.Api.Features.Reports.Alerts;

/// <summary>
/// When failed sign-ins raise an alert (docs/decisions/0006-failed-login-alerts.md). A scope opens when its count in
/// the last <see cref="Window"/> reaches its threshold, and (global scope only) exceeds <see cref="BaselineMultiple"/>
/// times the average count per window-length over the <see cref="BaselineWindow"/> before it. An open alert closes
/// when the count falls below <see cref="CloseRatio"/> times the threshold.
/// </summary>
public sealed class AlertsOptions
{
    public const string Section = "Alerts";

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan BaselineWindow { get; set; } = TimeSpan.FromHours(24);

    public int GlobalThreshold { get; set; } = 50;

    public int IpThreshold { get; set; } = 20;

    public int AccountThreshold { get; set; } = 10;

    public double BaselineMultiple { get; set; } = 3.0;

    /// <summary>Hysteresis: a rate hovering around the threshold keeps one alert open instead of opening one a minute.</summary>
    public double CloseRatio { get; set; } = 0.5;

    public int ThresholdOf(string scope) => scope switch
    {
        Alert.Global => GlobalThreshold,
        Alert.Ip => IpThreshold,
        Alert.Account => AccountThreshold,
        _ => throw new ArgumentOutOfRangeException(nameof(scope), scope, "Unknown alert scope."),
    };

    /// <summary>The count below which an open alert of <paramref name="scope"/> closes.</summary>
    public double CloseBelow(string scope) => ThresholdOf(scope) * CloseRatio;

    internal static bool IsValid(AlertsOptions o) =>
        o.Window > TimeSpan.Zero && o.BaselineWindow >= o.Window
        && o.GlobalThreshold > 0 && o.IpThreshold > 0 && o.AccountThreshold > 0
        && o.BaselineMultiple >= 0 && o.CloseRatio is > 0 and <= 1;

    internal const string ValidationMessage =
        "Alerts: Window must be positive and BaselineWindow at least Window; GlobalThreshold, IpThreshold and AccountThreshold must be positive; BaselineMultiple must not be negative; CloseRatio must be in (0, 1].";
}
