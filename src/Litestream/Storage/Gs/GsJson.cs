using System.Text.Json.Serialization;

namespace Litestream.Storage.Gs;

/// <summary>An object resource of the GCS JSON API (the fields this client reads; numbers arrive as strings).</summary>
internal sealed class GsObject
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("size")] public string? Size { get; set; }
    [JsonPropertyName("generation")] public string? Generation { get; set; }
    [JsonPropertyName("timeCreated")] public string? TimeCreated { get; set; }
    [JsonPropertyName("updated")] public string? Updated { get; set; }
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; set; }
}

/// <summary>One page of an objects list.</summary>
internal sealed class GsObjectList
{
    [JsonPropertyName("items")] public List<GsObject>? Items { get; set; }
    [JsonPropertyName("nextPageToken")] public string? NextPageToken { get; set; }
}

/// <summary>The answer to one rewrite call: done, or a token to call again with.</summary>
internal sealed class GsRewrite
{
    [JsonPropertyName("done")] public bool Done { get; set; }
    [JsonPropertyName("rewriteToken")] public string? RewriteToken { get; set; }
    [JsonPropertyName("resource")] public GsObject? Resource { get; set; }
}

/// <summary>The metadata part of a multipart upload.</summary>
internal sealed class GsUploadMetadata
{
    [JsonPropertyName("name")] public string? Name { get; set; }
    [JsonPropertyName("contentType")] public string? ContentType { get; set; }
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; set; }
}

/// <summary>A JSON API error body: <c>{"error": {"code": 404, "message": "…"}}</c>.</summary>
internal sealed class GsErrorBody
{
    [JsonPropertyName("error")] public GsError? Error { get; set; }
}

internal sealed class GsError
{
    [JsonPropertyName("code")] public int Code { get; set; }
    [JsonPropertyName("message")] public string? Message { get; set; }
}

/// <summary>An OAuth 2 token endpoint's (or the metadata server's) answer.</summary>
internal sealed class GsToken
{
    [JsonPropertyName("access_token")] public string? AccessToken { get; set; }
    [JsonPropertyName("expires_in")] public long ExpiresIn { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
    [JsonPropertyName("error_description")] public string? ErrorDescription { get; set; }
}

/// <summary>An Application Default Credentials file: a service account key or a gcloud user's refresh token.</summary>
internal sealed class GsCredentialsFile
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("client_email")] public string? ClientEmail { get; set; }
    [JsonPropertyName("private_key")] public string? PrivateKey { get; set; }
    [JsonPropertyName("private_key_id")] public string? PrivateKeyId { get; set; }
    [JsonPropertyName("token_uri")] public string? TokenUri { get; set; }
    [JsonPropertyName("client_id")] public string? ClientId { get; set; }
    [JsonPropertyName("client_secret")] public string? ClientSecret { get; set; }
    [JsonPropertyName("refresh_token")] public string? RefreshToken { get; set; }
}

/// <summary>System.Text.Json source generation for the types above (no reflection: the exe is trimmed NativeAOT).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GsObject))]
[JsonSerializable(typeof(GsObjectList))]
[JsonSerializable(typeof(GsRewrite))]
[JsonSerializable(typeof(GsUploadMetadata))]
[JsonSerializable(typeof(GsErrorBody))]
[JsonSerializable(typeof(GsToken))]
[JsonSerializable(typeof(GsCredentialsFile))]
internal sealed partial class GsJsonContext : JsonSerializerContext;
