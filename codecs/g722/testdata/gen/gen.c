/*
 * gen: produce G.722 golden files with spandsp's reference-conformant codec.
 *
 *   gen encode IN.raw OUT.g722   16 kHz s16le PCM -> G.722 64 kbit/s bytes
 *   gen decode IN.g722 OUT.raw   G.722 bytes -> 16 kHz s16le PCM
 *
 * Build: cc -O2 -o gen gen.c -lspandsp   (Debian: libspandsp-dev)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spandsp.h>

static unsigned char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len + 1);
    if (fread(buf, 1, *len, f) != (size_t) *len) { perror(path); exit(1); }
    fclose(f);
    return buf;
}

static void spill(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len) { perror(path); exit(1); }
    fclose(f);
}

int main(int argc, char **argv)
{
    long len;
    if (argc != 4) {
        fprintf(stderr, "usage: gen encode|decode IN OUT\n");
        return 2;
    }
    unsigned char *in = slurp(argv[2], &len);
    if (strcmp(argv[1], "encode") == 0) {
        long n = len / 2;
        int16_t *pcm = malloc(n * sizeof(int16_t));
        for (long i = 0; i < n; i++)
            pcm[i] = (int16_t) (in[2*i] | (in[2*i + 1] << 8));
        uint8_t *out = malloc(n / 2 + 1);
        g722_encode_state_t *s = g722_encode_init(NULL, 64000, 0);
        int m = g722_encode(s, out, pcm, (int) n);
        spill(argv[3], out, m);
    } else if (strcmp(argv[1], "decode") == 0) {
        int16_t *pcm = malloc(len * 2 * sizeof(int16_t));
        g722_decode_state_t *s = g722_decode_init(NULL, 64000, 0);
        int m = g722_decode(s, pcm, in, (int) len);
        unsigned char *out = malloc(m * 2);
        for (int i = 0; i < m; i++) {
            out[2*i] = (unsigned char) (pcm[i] & 0xff);
            out[2*i + 1] = (unsigned char) ((uint16_t) pcm[i] >> 8);
        }
        spill(argv[3], out, m * 2);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    return 0;
}
