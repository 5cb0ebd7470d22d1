using System.Runtime.InteropServices;
using Litestream.Ltx.Checksums;
using Litestream.Ltx.Tests;

// Prints "kernel=<name> arch=<arch>" and the outcome of each differential check; exit code 0 only when all agree.
Console.WriteLine($"kernel={Crc64Iso.Vectorized.Kernel} arch={RuntimeInformation.ProcessArchitecture}");
ulong check = Crc64Iso.Compute("123456789"u8);
string? failure = check != 0xB90956C775A41001 ? $"check value {check:x16}" : null;
failure ??= Crc64Differential.DispatchedVersusOracle(20261123, 600);
failure ??= Crc64Iso.Vectorized.IsSupported ? Crc64Differential.FoldVersusTable(42, 400) : null;
Console.WriteLine(failure is null ? "ok" : $"mismatch: {failure}");
return failure is null ? 0 : 1;
