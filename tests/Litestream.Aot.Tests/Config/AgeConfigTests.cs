using Litestream.Aot.Config;

namespace Litestream.Aot.Tests.Config;

/// <summary>v0.3's per-replica <c>age:</c> section: identities for restore, refused by replicate as upstream v0.5 does.</summary>
public class AgeConfigTests
{
    private const string Key = "AGE-SECRET-KEY-1XA4PFR3HDMN62P6S5UMGSX3G8AU76QXTR89725RNEQ0YX5NCTCXQ4V2W6V";
    private const string Recipient = "age1e5hw84v74aqqurztl8uu9zhye35xc580zcruxfuvde4l7sq0738q2gpnzx";

    private static (ReplicaConfig Replica, ReplicaConfig Defaults) Load(string yaml)
    {
        LitestreamConfig config = ConfigLoader.Parse(yaml, "/cfg");
        return (config.Dbs[0].Replica!, config.ReplicaDefaults);
    }

    [Fact]
    public void AgeIdentities_ReplicaSection_AsWritten()
    {
        var (replica, defaults) = Load($"dbs:\n  - path: /a.db\n    replicas:\n      - url: file:///r\n        age:\n          identities: [\"{Key}\"]\n          recipients: [{Recipient}]\n");
        Assert.Equal([Key], replica.AgeIdentities(defaults));
    }

    [Fact]
    public void AgeIdentities_TopLevelDefaults_Inherited()
    {
        var (replica, defaults) = Load($"age:\n  identities:\n    - |\n      # created by age-keygen\n      {Key}\ndbs:\n  - path: /a.db\n    replica: {{url: file:///r}}\n");
        Assert.Equal([$"# created by age-keygen\n{Key}\n"], replica.AgeIdentities(defaults));
    }

    [Fact]
    public void AgeIdentities_None_Empty()
    {
        var (replica, defaults) = Load("dbs:\n  - path: /a.db\n    replica: {url: file:///r}\n");
        Assert.Empty(replica.AgeIdentities(defaults));
    }

    [Fact]
    public void AgeIdentities_OnlyRecipients_FailsWithHint()
    {
        var (replica, defaults) = Load($"dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      age: {{recipients: [{Recipient}]}}\n");
        CommandException e = Assert.Throws<CommandException>(() => replica.AgeIdentities(defaults));
        Assert.Equal("dbs[0].replica.age.recipients: age recipients encrypt, restore needs the identities", e.Message);
        Assert.Equal("add the matching private keys under age: identities: [AGE-SECRET-KEY-1…] (age-keygen wrote them beside each age1… recipient)", e.Hint);
    }

    [Theory]
    [InlineData("dbs:\n  - path: /a.db\n    replica:\n      url: file:///r\n      age: {identities: [\"KEY\"]}\n", "dbs[0].replica.age")]
    [InlineData("age: {recipients: [REC]}\ndbs:\n  - path: /a.db\n    replica: {url: file:///r}\n", "age")]
    public void RejectAgeForReplication_AnyAgeKey_UpstreamMessage(string yaml, string path)
    {
        var (replica, defaults) = Load(yaml.Replace("KEY", Key, StringComparison.Ordinal).Replace("REC", Recipient, StringComparison.Ordinal));
        CommandException e = Assert.Throws<CommandException>(() => replica.RejectAgeForReplication(defaults));
        Assert.Equal($"{path}: age encryption is not currently supported, if you need encryption please revert back to Litestream v0.3.x", e.Message);
        Assert.Equal("this build writes LTX files, which age never encrypted; age: identities are read only by 'litestream restore', to decrypt v0.3 generations", e.Hint);
    }

    [Fact]
    public void RejectAgeForReplication_NoAge_Passes()
    {
        var (replica, defaults) = Load("dbs:\n  - path: /a.db\n    replica: {url: file:///r}\n");
        replica.RejectAgeForReplication(defaults);
    }
}
