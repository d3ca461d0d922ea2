namespace Homeserver.ApiHost.ThreePids;

/// <summary>Why an address is being validated: the wording of the mail and where its token is submitted (Synapse's paths).</summary>
public sealed record ValidationPurpose(string Name, string Subject, string Action, string SubmitPath)
{
    public static readonly ValidationPurpose Registration = new("registration", "Validate your email", "register an account",
        "_matrix/client/unstable/registration/email/submit_token");

    public static readonly ValidationPurpose AddThreePid = new("add_threepid", "Validate your email", "add this email address to an account",
        "_matrix/client/unstable/add_threepid/email/submit_token");

    public static readonly ValidationPurpose PasswordReset = new("password_reset", "Password reset", "reset the password of an account",
        "_synapse/client/password_reset/email/submit_token");

    public static readonly IReadOnlyList<ValidationPurpose> All = [Registration, AddThreePid, PasswordReset];
}
