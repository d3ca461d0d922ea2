using Homeserver.Storage;
using Homeserver.Storage.Migrations;
using Homeserver.Storage.ThreePids;
using Homeserver.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Homeserver.Tests.Storage;

/// <summary>
/// Validation sessions against the clock they are given: a token is good until its expiry and not at
/// it, a new send_attempt mails a new token into the same session, and a validated session stays so.
/// </summary>
public sealed class ThreePidValidationStoreTests : IAsyncLifetime
{
    private const long Now = 1_700_000_000_000;
    private const long Lifetime = 3_600_000;
    private TestDatabase _database = null!;
    private NpgsqlDataSource _dataSource = null!;
    private ThreePidStore _store = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync();
        _dataSource = NpgsqlDataSource.Create(_database.ConnectionString);
        await new MigrationRunner(_dataSource, new StorageLog(NullLogger<StorageLog>.Instance)).ApplyAsync();
        _store = new ThreePidStore(_dataSource);
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _database.DisposeAsync();
    }

    private Task<ValidationStart> StartAsync(string address, long attempt, string token, long now) =>
        _store.StartOrContinueAsync("email", address, "secret", attempt, "sid-" + Guid.NewGuid().ToString("N"), token, null, now,
            tokenExpiresTs: now + Lifetime, notBefore: now - 24 * Lifetime);

    [Fact]
    public async Task A_token_expires_at_its_lifetime_and_a_new_send_attempt_brings_a_fresh_one_into_the_same_session()
    {
        var address = $"{Guid.NewGuid():N}@example.org";
        var first = await StartAsync(address, 1, "token-1", Now);
        first.MustSend.Should().BeTrue();

        (await _store.SubmitTokenAsync(first.SessionId, "secret", "token-1", Now + Lifetime, 10)).Result.Should().Be(TokenCheck.Expired,
            "the token is good until its expiry, not at it");
        (await _store.GetValidatedAsync(first.SessionId, "secret")).Should().BeNull();

        var again = await StartAsync(address, 1, "token-unsent", Now + Lifetime);
        (again.SessionId, again.MustSend).Should().Be((first.SessionId, false), "the same send_attempt sends nothing new");
        var second = await StartAsync(address, 2, "token-2", Now + Lifetime);
        (second.SessionId, second.MustSend).Should().Be((first.SessionId, true));

        (await _store.SubmitTokenAsync(first.SessionId, "secret", "token-unsent", Now + Lifetime + 1, 10)).Result.Should().Be(TokenCheck.WrongToken);
        (await _store.SubmitTokenAsync(first.SessionId, "other-secret", "token-2", Now + Lifetime + 1, 10)).Result.Should().Be(TokenCheck.UnknownSession);
        (await _store.SubmitTokenAsync(first.SessionId, "secret", "token-2", Now + 2 * Lifetime - 1, 10)).Result.Should().Be(TokenCheck.Validated);
        (await _store.GetValidatedAsync(first.SessionId, "secret")).Should().Be(new ValidatedThreePid("email", address, Now + 2 * Lifetime - 1));

        // Validated stays validated, even once the token that did it has expired.
        (await _store.SubmitTokenAsync(first.SessionId, "secret", "token-2", Now + 3 * Lifetime, 10)).Result.Should().Be(TokenCheck.AlreadyValidated);
    }

    [Fact]
    public async Task Wrong_tokens_are_counted_and_past_the_limit_even_the_right_one_is_refused()
    {
        var start = await StartAsync($"{Guid.NewGuid():N}@example.org", 1, "right", Now);
        for (var i = 0; i < 3; i++)
        {
            (await _store.SubmitTokenAsync(start.SessionId, "secret", $"wrong-{i}", Now + 1, 3)).Result.Should().Be(TokenCheck.WrongToken);
        }
        (await _store.SubmitTokenAsync(start.SessionId, "secret", "right", Now + 1, 3)).Result.Should().Be(TokenCheck.TooManyAttempts);
    }
}
