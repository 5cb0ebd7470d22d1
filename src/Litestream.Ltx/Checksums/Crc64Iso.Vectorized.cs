using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ArmAes = System.Runtime.Intrinsics.Arm.Aes;

namespace Litestream.Ltx.Checksums;

public static partial class Crc64Iso
{
    /// <summary>
    /// Carry-less multiply folding (Gopal et al., "Fast CRC Computation for Generic Polynomials Using
    /// PCLMULQDQ", Intel 2009), in the bit-reflected domain. A 128-bit block A = A_hi·x^64 + A_lo moved
    /// D bits forward is A_hi·(x^(D+64) mod P) + A_lo·(x^D mod P); a carry-less product of reflected
    /// operands comes out multiplied by x, so the constants are x^(D+63) and x^(D-1) mod P, reflected.
    /// Four independent lanes fold 64 bytes per step (D = 512), then merge (D = 128). The final 16 bytes
    /// are reduced by the table path, which is the same arithmetic: CRC(R) = R·x^64 mod P.
    /// Constants are derived at type initialisation from the polynomial (a few hundred shifts), and the
    /// whole kernel is checked against the scalar oracle over random lengths and alignments.
    /// The 64×64→128 carry-less multiply is PCLMULQDQ on x64 and PMULL/PMULL2 (the Arm Crypto
    /// extension's polynomial multiply, exposed as <c>Arm.Aes</c>) on Arm64; the folding is identical.
    /// </summary>
    internal static class Vectorized
    {
        public const int BlockSize = 16;
        public const int MinLength = 128;

        // Normal-form low terms of P(x) = x^64 + x^4 + x^3 + x + 1 (Go's crc64.ISO, reflected 0xD8…).
        private const ulong PolynomialLowTerms = 0x1B;

        private static readonly Vector128<ulong> s_fold128 = Constants(128);
        private static readonly Vector128<ulong> s_fold512 = Constants(512);

        public static bool IsSupported => (Pclmulqdq.IsSupported && Sse2.IsSupported) || ArmAes.IsSupported;

        /// <summary>Which multiply the kernel uses here: "pclmulqdq", "pmull" or "none".</summary>
        public static string Kernel => Pclmulqdq.IsSupported && Sse2.IsSupported ? "pclmulqdq" : ArmAes.IsSupported ? "pmull" : "none";

        /// <summary>Folds <paramref name="data"/> (a multiple of 16 bytes, at least 16) into the raw register.</summary>
        public static ulong Fold(ulong state, ReadOnlySpan<byte> data)
        {
            ref byte start = ref MemoryMarshal.GetReference(data);
            int length = data.Length;
            int offset = 0;
            Vector128<ulong> x0 = Load(ref start, 0) ^ Vector128.CreateScalar(state);
            if (length >= 128)
            {
                Vector128<ulong> x1 = Load(ref start, 16), x2 = Load(ref start, 32), x3 = Load(ref start, 48);
                offset = 64;
                while (length - offset >= 64)
                {
                    x0 = FoldInto(x0, s_fold512, Load(ref start, offset));
                    x1 = FoldInto(x1, s_fold512, Load(ref start, offset + 16));
                    x2 = FoldInto(x2, s_fold512, Load(ref start, offset + 32));
                    x3 = FoldInto(x3, s_fold512, Load(ref start, offset + 48));
                    offset += 64;
                }
                x0 = FoldInto(FoldInto(FoldInto(x0, s_fold128, x1), s_fold128, x2), s_fold128, x3);
            }
            else
            {
                offset = 16;
            }
            while (length - offset >= 16)
            {
                x0 = FoldInto(x0, s_fold128, Load(ref start, offset));
                offset += 16;
            }
            Span<byte> rest = stackalloc byte[16];
            Unsafe.WriteUnaligned(ref MemoryMarshal.GetReference(rest), x0);
            return UpdateTable(0, rest);
        }

        /// <summary>x_lo·k_lo ⊕ x_hi·k_hi ⊕ next (carry-less); IsSupported checks fold to constants in the JIT.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<ulong> FoldInto(Vector128<ulong> x, Vector128<ulong> k, Vector128<ulong> next)
        {
            if (Pclmulqdq.IsSupported)
            {
                return Pclmulqdq.CarrylessMultiply(x, k, 0x00) ^ Pclmulqdq.CarrylessMultiply(x, k, 0x11) ^ next;
            }
            return ArmAes.PolynomialMultiplyWideningLower(x.GetLower(), k.GetLower()) ^ ArmAes.PolynomialMultiplyWideningUpper(x, k) ^ next;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector128<ulong> Load(ref byte start, int offset)
            => Unsafe.ReadUnaligned<Vector128<ulong>>(ref Unsafe.Add(ref start, offset));

        /// <summary>[reflect(x^(D+63) mod P), reflect(x^(D-1) mod P)] for a fold distance of D bits.</summary>
        private static Vector128<ulong> Constants(int distance)
            => Vector128.Create(Reflect(XPowModP(distance + 63)), Reflect(XPowModP(distance - 1)));

        /// <summary>x^n mod P in normal form (bit i = coefficient of x^i).</summary>
        internal static ulong XPowModP(int n)
        {
            ulong r = 1;
            for (int i = 0; i < n; i++)
            {
                bool carry = (r >> 63) != 0;
                r <<= 1;
                if (carry)
                {
                    r ^= PolynomialLowTerms;
                }
            }
            return r;
        }

        private static ulong Reflect(ulong value)
        {
            ulong result = 0;
            for (int i = 0; i < 64; i++)
            {
                result = (result << 1) | ((value >> i) & 1);
            }
            return result;
        }
    }
}
