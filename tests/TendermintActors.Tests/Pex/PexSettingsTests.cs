using Akka.Actor;
using TendermintActors.Pex;

namespace TendermintActors.Tests.Pex;

/// <summary>PEX settings built in code are checked when the reactor's Props are made, not in its timers.</summary>
public class PexSettingsTests
{
    public static TheoryData<PexReactor.Settings, string> OutOfRange => new()
    {
        { new PexReactor.Settings { EnsurePeersPeriod = TimeSpan.Zero }, "EnsurePeersPeriod must be longer than 0" },
        { new PexReactor.Settings { CrawlPeriod = TimeSpan.FromSeconds(-1) }, "CrawlPeriod must be longer than 0" },
        { new PexReactor.Settings { BanTime = TimeSpan.Zero }, "BanTime must be longer than 0" },
        { new PexReactor.Settings { BanTime = TimeSpan.FromDays(36501) }, "BanTime must be at most 36500 days" },
        { new PexReactor.Settings { SeedDisconnectWaitPeriod = TimeSpan.FromSeconds(-1) }, "SeedDisconnectWaitPeriod must not be negative" },
        { new PexReactor.Settings { MinTimeBetweenCrawls = TimeSpan.FromSeconds(-1) }, "MinTimeBetweenCrawls must not be negative" },
        { new PexReactor.Settings { PersistentPeersMaxDialPeriod = TimeSpan.FromSeconds(-1) }, "PersistentPeersMaxDialPeriod must not be negative" },
        { new PexReactor.Settings { MaxAttemptsToDial = 0 }, "MaxAttemptsToDial must be 1 or more" },
        { new PexReactor.Settings { EarlyRequestsTolerated = -1 }, "EarlyRequestsTolerated must be 0 or more" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Props_refuse_settings_out_of_range_naming_the_setting(PexReactor.Settings settings, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => PexReactor.Props(settings, ActorRefs.Nobody, ActorRefs.Nobody));

        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public void The_defaults_and_the_settings_from_the_reference_config_are_accepted()
    {
        Assert.NotNull(PexReactor.Props(new PexReactor.Settings(), ActorRefs.Nobody, ActorRefs.Nobody));
        Assert.NotNull(PexReactor.Props(PexReactor.Settings.From(TendermintActors.Configuration.P2PSettings.Default), ActorRefs.Nobody, ActorRefs.Nobody));
    }
}
