// SPDX-License-Identifier: GPL-2.0
/*
 * nectl: the Enclave Image Format (EIF), version 4.
 *
 * Layout (all integers big-endian): a 548-byte header, then the sections,
 * each a 12-byte section header (u16 type, u16 flags, u64 size) followed by
 * its data. nectl writes kernel, cmdline (no NUL), metadata (JSON) and the
 * ramdisks, contiguously, and no signature.
 *
 * CRC: zlib crc32 over header bytes 0..543, then over each section header
 * and its data, in section order.
 *
 * PCRs, as aws-nitro-enclaves-image-format computes them (src/utils/mod.rs
 * EifBuilder::measure and get_pcrs, src/utils/eif_reader.rs, the hasher in
 * src/defs/eif_hasher.rs) and as QEMU's hw/core/eif.c plus the extend of
 * hw/i386/nitro_enclave.c do: one SHA-384 over the concatenated section
 * data (no section headers, no metadata, no signature), then one extend of
 * a zero register: PCR = SHA-384(48 zero bytes || that digest).
 *   PCR0: kernel, cmdline and every ramdisk, in section order;
 *   PCR1: kernel, cmdline and the first ramdisk;
 *   PCR2: the ramdisks after the first (SHA-384 of nothing if none).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "fdio.h"
#include "nectl.h"

#define IO_CHUNK	(256 * 1024)
#define CRC_OFF		544

static void seterr(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* ---- big-endian fields ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

void ne_eif_header_encode(const struct ne_eif_header *h, uint8_t *out)
{
	int i;

	memset(out, 0, NE_EIF_HDR_SIZE);
	memcpy(out, NE_EIF_MAGIC, 4);
	put16(out + 4, h->version);
	put16(out + 6, h->flags);
	put64(out + 8, h->default_mem);
	put64(out + 16, h->default_cpus);
	put16(out + 24, h->reserved);
	put16(out + 26, h->nr_sections);
	for (i = 0; i < NE_EIF_MAX_SECTIONS; i++) {
		put64(out + 28 + 8 * i, h->offsets[i]);
		put64(out + 284 + 8 * i, h->sizes[i]);
	}
	put32(out + 540, h->unused);
	put32(out + CRC_OFF, h->crc);
}

void ne_eif_header_decode(const uint8_t *in, struct ne_eif_header *h)
{
	int i;

	h->version = get16(in + 4);
	h->flags = get16(in + 6);
	h->default_mem = get64(in + 8);
	h->default_cpus = get64(in + 16);
	h->reserved = get16(in + 24);
	h->nr_sections = get16(in + 26);
	for (i = 0; i < NE_EIF_MAX_SECTIONS; i++) {
		h->offsets[i] = get64(in + 28 + 8 * i);
		h->sizes[i] = get64(in + 284 + 8 * i);
	}
	h->unused = get32(in + 540);
	h->crc = get32(in + CRC_OFF);
}

const char *ne_eif_type_name(unsigned int type)
{
	static const char *const names[] = {
		[NE_EIF_KERNEL] = "kernel",
		[NE_EIF_CMDLINE] = "cmdline",
		[NE_EIF_RAMDISK] = "ramdisk",
		[NE_EIF_SIGNATURE] = "signature",
		[NE_EIF_METADATA] = "metadata",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "invalid";
}

void ne_eif_hex(const uint8_t *d, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * len] = '\0';
}

/* ---- measurements (PCR0, PCR1, PCR2) ---- */

struct meas {
	EVP_MD_CTX *ctx[3];
	int nr_ramdisks;	/* ramdisk sections finished so far */
};

static void meas_free(struct meas *m)
{
	int i;

	for (i = 0; i < 3; i++)
		EVP_MD_CTX_free(m->ctx[i]);
	memset(m, 0, sizeof(*m));
}

static int meas_init(struct meas *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 3; i++) {
		m->ctx[i] = EVP_MD_CTX_new();
		if (!m->ctx[i] || !EVP_DigestInit_ex(m->ctx[i], EVP_sha384(), NULL)) {
			meas_free(m);
			return -ENOMEM;
		}
	}
	return 0;
}

/* Data of a section of this type; ramdisks count in the order they come. */
static int meas_feed(struct meas *m, unsigned int type, const void *buf, size_t len)
{
	bool ok = true;

	switch (type) {
	case NE_EIF_KERNEL:
	case NE_EIF_CMDLINE:
		ok = EVP_DigestUpdate(m->ctx[0], buf, len) &&
		     EVP_DigestUpdate(m->ctx[1], buf, len);
		break;
	case NE_EIF_RAMDISK:
		ok = EVP_DigestUpdate(m->ctx[0], buf, len) &&
		     EVP_DigestUpdate(m->ctx[m->nr_ramdisks ? 2 : 1], buf, len);
		break;
	default:
		break;		/* metadata and signature are not measured */
	}
	return ok ? 0 : -EIO;
}

/* PCR = SHA-384(zero register || SHA-384(data)). */
static int meas_final(struct meas *m, uint8_t pcr[3][NE_SHA384_LEN])
{
	uint8_t reg[2 * NE_SHA384_LEN];
	unsigned int n;
	int i;

	for (i = 0; i < 3; i++) {
		memset(reg, 0, sizeof(reg));
		if (!EVP_DigestFinal_ex(m->ctx[i], reg + NE_SHA384_LEN, &n) ||
		    n != NE_SHA384_LEN ||
		    !EVP_Digest(reg, sizeof(reg), pcr[i], &n, EVP_sha384(), NULL))
			return -EIO;
	}
	return 0;
}

/* ---- I/O helpers ---- */

/* Reads exactly len bytes at off; -ENODATA at a premature end of file. */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* ---- building ---- */

struct section_src {
	unsigned int type;
	const char *path;	/* file sections */
	int fd;
	const uint8_t *mem;	/* in-memory sections (cmdline, metadata) */
	uint64_t size;
};

/* JSON string body of s (quotes not included), escaped; 0 or -ENOSPC. */
static int json_escape(char *out, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t used = 0;
	int n;

	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			n = snprintf(out + used, len - used, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			n = snprintf(out + used, len - used, "\\u%04x", *p);
		else
			n = snprintf(out + used, len - used, "%c", *p);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += n;
	}
	return 0;
}

/*
 * The metadata section. nitro-cli describe-eif deserialises it into its
 * EifIdentityInfo (src/defs/mod.rs): every key below must be there.
 */
static int make_metadata(const struct ne_eif_build_opts *o, char *out, size_t len)
{
	char name[512], esc[3 * 512 + 1], when[64];
	const char *base, *sde;
	struct tm tm;
	time_t t;
	size_t n;
	int rc;

	base = strrchr(o->output, '/');
	base = base ? base + 1 : o->output;
	ne_copy(name, sizeof(name), base);
	n = strlen(name);
	if (n > 4 && !strcmp(name + n - 4, ".eif"))
		name[n - 4] = '\0';
	if (json_escape(esc, sizeof(esc), o->name ? o->name : name))
		return -ENAMETOOLONG;
	/* Reproducible builds: SOURCE_DATE_EPOCH fixes the build time. */
	sde = getenv("SOURCE_DATE_EPOCH");
	t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	rc = snprintf(out, len,
		      "{\"ImageName\":\"%s\",\"ImageVersion\":\"1.0\","
		      "\"BuildMetadata\":{\"BuildTime\":\"%s\",\"BuildTool\":\"nectl\","
		      "\"BuildToolVersion\":\"%s\",\"OperatingSystem\":\"linux\","
		      "\"KernelVersion\":\"unknown\"},"
		      "\"DockerInfo\":{},\"CustomMetadata\":{}}",
		      esc, when, NECTL_VERSION);
	return rc < 0 || (size_t)rc >= len ? -ENAMETOOLONG : 0;
}

static int open_input(struct section_src *s, char *err, size_t errlen)
{
	struct stat st;
	int e;

	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd < 0) {
		e = errno;
		seterr(err, errlen, "cannot read %s %s: %s", ne_eif_type_name(s->type),
		       s->path, strerror(e));
		return -e;
	}
	if (fstat(s->fd, &st) || !S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s %s is not a regular file", ne_eif_type_name(s->type),
		       s->path);
		return -EINVAL;
	}
	if (s->type == NE_EIF_KERNEL && st.st_size == 0) {
		seterr(err, errlen, "kernel %s is empty", s->path);
		return -EINVAL;
	}
	s->size = st.st_size;
	return 0;
}

/* Section header and data into fd, through the CRC and the measurements. */
static int emit_section(int fd, struct section_src *s, uint8_t *buf, uLong *crc,
			struct meas *m, char *err, size_t errlen)
{
	uint64_t done = 0;
	uint8_t sh[NE_EIF_SEC_HDR_SIZE];
	size_t want;
	ssize_t n;
	int rc;

	put16(sh, s->type);
	put16(sh + 2, 0);
	put64(sh + 4, s->size);
	*crc = crc32(*crc, sh, sizeof(sh));
	rc = write_all(fd, sh, sizeof(sh));
	while (!rc && done < s->size) {
		want = s->size - done < IO_CHUNK ? s->size - done : IO_CHUNK;
		if (s->mem) {
			memcpy(buf, s->mem + done, want);
			n = want;
		} else {
			n = read(s->fd, buf, want);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				seterr(err, errlen, "%s %s %s while being read",
				       ne_eif_type_name(s->type), s->path,
				       n < 0 ? strerror(errno) : "shrank");
				return n < 0 ? -errno : -EIO;
			}
		}
		*crc = crc32(*crc, buf, (uInt)n);
		rc = meas_feed(m, s->type, buf, n);
		if (!rc)
			rc = write_all(fd, buf, n);
		done += n;
	}
	if (!rc && !s->mem && read(s->fd, buf, 1) != 0) {
		seterr(err, errlen, "%s %s grew while being read", ne_eif_type_name(s->type),
		       s->path);
		return -EIO;
	}
	if (s->type == NE_EIF_RAMDISK)
		m->nr_ramdisks++;
	if (rc && err && !*err)
		seterr(err, errlen, "cannot write the image: %s", strerror(-rc));
	return rc;
}

static int check_opts(const struct ne_eif_build_opts *o, char *err, size_t errlen)
{
	if (!o->kernel) {
		seterr(err, errlen, "no kernel: give --kernel FILE");
		return -EINVAL;
	}
	if (o->nr_ramdisks < 1) {
		seterr(err, errlen, "no initrd: give at least one --initrd FILE");
		return -EINVAL;
	}
	if (o->nr_ramdisks > NE_EIF_MAX_RAMDISKS) {
		seterr(err, errlen, "%d initrds is too many: an EIF holds at most %d "
		       "(32 sections, 3 taken by kernel, cmdline and metadata)",
		       o->nr_ramdisks, NE_EIF_MAX_RAMDISKS);
		return -E2BIG;
	}
	if (!o->cmdline) {
		seterr(err, errlen, "no kernel command line: give --cmdline STRING");
		return -EINVAL;
	}
	if (strlen(o->cmdline) > NE_EIF_CMDLINE_MAX) {
		seterr(err, errlen, "the kernel command line is %zu bytes; the limit is %d "
		       "(the kernel's COMMAND_LINE_SIZE of 2048, less the NUL)",
		       strlen(o->cmdline), NE_EIF_CMDLINE_MAX);
		return -E2BIG;
	}
	if (!o->output || !*o->output) {
		seterr(err, errlen, "no output file: give -o FILE");
		return -EINVAL;
	}
	if (o->mem_mib < NE_EIF_MIN_MEM_MIB || o->mem_mib > NE_EIF_MAX_MEM_MIB) {
		seterr(err, errlen, "default memory %" PRIu64 " MiB is outside %d..%d MiB",
		       o->mem_mib, NE_EIF_MIN_MEM_MIB, NE_EIF_MAX_MEM_MIB);
		return -EINVAL;
	}
	if (o->cpus < 1 || o->cpus > NE_MAX_CPUS) {
		seterr(err, errlen, "default CPU count %" PRIu64 " is outside 1..%d", o->cpus,
		       NE_MAX_CPUS);
		return -EINVAL;
	}
	return 0;
}

int ne_eif_build(const struct ne_eif_build_opts *o, struct ne_eif_result *res, char *err,
		 size_t errlen)
{
	struct section_src src[NE_EIF_MAX_SECTIONS];
	uint8_t hdr_bytes[NE_EIF_HDR_SIZE];
	struct ne_eif_header h = { 0 };
	struct meas m = { 0 };
	char meta[2048], *tmp = NULL;
	int i, n = 0, fd = -1, rc;
	uint8_t *buf = NULL;
	uint64_t off;
	mode_t mask;
	uLong crc;

	if (err && errlen)
		*err = '\0';
	rc = check_opts(o, err, errlen);
	if (rc)
		return rc;
	if (make_metadata(o, meta, sizeof(meta))) {
		seterr(err, errlen, "the image name is too long for the metadata");
		return -ENAMETOOLONG;
	}
	memset(src, 0, sizeof(src));
	src[n++] = (struct section_src){ NE_EIF_KERNEL, o->kernel, -1, NULL, 0 };
	src[n++] = (struct section_src){ NE_EIF_CMDLINE, "(cmdline)", -1,
					 (const uint8_t *)o->cmdline, strlen(o->cmdline) };
	src[n++] = (struct section_src){ NE_EIF_METADATA, "(metadata)", -1,
					 (const uint8_t *)meta, strlen(meta) };
	for (i = 0; i < o->nr_ramdisks; i++)
		src[n++] = (struct section_src){ NE_EIF_RAMDISK, o->ramdisks[i], -1, NULL, 0 };
	for (i = 0; i < n; i++) {
		if (!src[i].mem && (rc = open_input(&src[i], err, errlen)))
			goto out;
	}

	h.version = NE_EIF_VERSION;
	h.flags = o->aarch64 ? NE_EIF_FLAG_AARCH64 : 0;
	h.default_mem = o->mem_mib * MiB;
	h.default_cpus = o->cpus;
	h.nr_sections = n;
	off = NE_EIF_HDR_SIZE;
	for (i = 0; i < n; i++) {
		if (src[i].size > INT64_MAX / 2 || off > INT64_MAX / 2) {
			seterr(err, errlen, "the inputs are too large for one image");
			rc = -EFBIG;
			goto out;
		}
		h.offsets[i] = off;
		h.sizes[i] = src[i].size;
		off += NE_EIF_SEC_HDR_SIZE + src[i].size;
	}

	buf = malloc(IO_CHUNK);
	tmp = malloc(strlen(o->output) + 16);
	rc = -ENOMEM;
	if (!buf || !tmp || meas_init(&m)) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	/* Written next to the output, renamed over it only when complete. */
	sprintf(tmp, "%s.tmp-XXXXXX", o->output);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot write %s: %s", o->output, strerror(-rc));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask)) {
		rc = -errno;
		seterr(err, errlen, "cannot write %s: %s", o->output, strerror(-rc));
		goto out;
	}

	ne_eif_header_encode(&h, hdr_bytes);
	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, hdr_bytes, CRC_OFF);
	rc = write_all(fd, hdr_bytes, sizeof(hdr_bytes));
	for (i = 0; !rc && i < n; i++)
		rc = emit_section(fd, &src[i], buf, &crc, &m, err, errlen);
	if (!rc) {
		h.crc = (uint32_t)crc;
		put32(hdr_bytes + CRC_OFF, h.crc);
		rc = pwrite(fd, hdr_bytes + CRC_OFF, 4, CRC_OFF) == 4 ? 0 : -EIO;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (!rc)
		rc = meas_final(&m, res->pcr);
	if (close(fd) && !rc)
		rc = -errno;
	fd = -1;
	if (!rc && rename(tmp, o->output))
		rc = -errno;
	if (rc && err && !*err)
		seterr(err, errlen, "cannot write %s: %s", o->output, strerror(-rc));
	if (!rc) {
		res->size = off;
		res->crc = h.crc;
		res->nr_sections = n;
	}
out:
	if (fd >= 0)
		close(fd);
	if (tmp && rc)
		unlink(tmp);
	free(tmp);
	free(buf);
	meas_free(&m);
	for (i = 0; i < n; i++)
		if (src[i].fd >= 0)
			close(src[i].fd);
	return rc;
}

/* ---- reading ---- */

static void keep_text(struct ne_eif_text *t, const uint8_t *buf, size_t len)
{
	size_t room = sizeof(t->s) - 1 - t->len;

	if (len > room) {
		t->truncated = true;
		len = room;
	}
	memcpy(t->s + t->len, buf, len);
	t->len += len;
	t->s[t->len] = '\0';
}

/* Offsets and sizes: inside the file, after the header, contiguous. */
static int check_layout(const struct ne_eif_header *h, uint64_t fsize, char *err,
			size_t errlen)
{
	uint64_t expect = NE_EIF_HDR_SIZE, off, size;
	int i;

	if (h->nr_sections == 0) {
		seterr(err, errlen, "the header lists no sections");
		return -EINVAL;
	}
	if (h->nr_sections > NE_EIF_MAX_SECTIONS) {
		seterr(err, errlen, "the header claims %u sections; the format allows at most %d",
		       h->nr_sections, NE_EIF_MAX_SECTIONS);
		return -EINVAL;
	}
	for (i = 0; i < h->nr_sections; i++) {
		off = h->offsets[i];
		size = h->sizes[i];
		if (off < NE_EIF_HDR_SIZE) {
			seterr(err, errlen, "section %d starts at offset %" PRIu64
			       ", inside the 548-byte header", i, off);
			return -EINVAL;
		}
		if (off > fsize || fsize - off < NE_EIF_SEC_HDR_SIZE ||
		    size > fsize - off - NE_EIF_SEC_HDR_SIZE) {
			seterr(err, errlen, "section %d (offset %" PRIu64 ", %" PRIu64
			       " bytes) ends beyond the end of the file (%" PRIu64
			       " bytes): the file is truncated or its header is corrupt",
			       i, off, size, fsize);
			return -EINVAL;
		}
		if (off != expect) {
			seterr(err, errlen, "section %d starts at offset %" PRIu64 ", not at %"
			       PRIu64 " right after the previous one: sections must be "
			       "contiguous", i, off, expect);
			return -EINVAL;
		}
		expect = off + NE_EIF_SEC_HDR_SIZE + size;
	}
	if (expect != fsize) {
		seterr(err, errlen, "%" PRIu64 " unexpected bytes follow the last section",
		       fsize - expect);
		return -EINVAL;
	}
	return 0;
}

static int read_sections(int fd, struct ne_eif_info *info, uLong *crc, struct meas *m,
			 uint8_t *buf, char *err, size_t errlen)
{
	const struct ne_eif_header *h = &info->hdr;
	uint8_t sh[NE_EIF_SEC_HDR_SIZE];
	struct ne_eif_section *s;
	uint64_t done, pos;
	size_t want;
	int i, rc;

	for (i = 0; i < h->nr_sections; i++) {
		s = &info->sec[i];
		s->offset = h->offsets[i];
		rc = pread_all(fd, sh, sizeof(sh), s->offset);
		if (rc)
			goto io;
		*crc = crc32(*crc, sh, sizeof(sh));
		s->type = get16(sh);
		s->flags = get16(sh + 2);
		s->size = get64(sh + 4);
		if (s->size != h->sizes[i]) {
			seterr(err, errlen, "section %d: its header says %" PRIu64
			       " bytes, the EIF header %" PRIu64, i, s->size, h->sizes[i]);
			return -EINVAL;
		}
		if (s->type < NE_EIF_KERNEL || s->type > NE_EIF_METADATA) {
			seterr(err, errlen, "section %d has unknown type %u", i, s->type);
			return -EINVAL;
		}
		if ((s->type == NE_EIF_KERNEL && info->nr_kernels++) ||
		    (s->type == NE_EIF_CMDLINE && info->nr_cmdlines++)) {
			seterr(err, errlen, "section %d is a second %s section", i,
			       ne_eif_type_name(s->type));
			return -EINVAL;
		}
		pos = s->offset + NE_EIF_SEC_HDR_SIZE;
		for (done = 0; done < s->size; done += want) {
			want = s->size - done < IO_CHUNK ? s->size - done : IO_CHUNK;
			rc = pread_all(fd, buf, want, pos + done);
			if (rc)
				goto io;
			*crc = crc32(*crc, buf, (uInt)want);
			if (meas_feed(m, s->type, buf, want)) {
				seterr(err, errlen, "SHA-384 failed");
				return -EIO;
			}
			if (s->type == NE_EIF_CMDLINE)
				keep_text(&info->cmdline, buf, want);
			else if (s->type == NE_EIF_METADATA)
				keep_text(&info->metadata, buf, want);
		}
		if (s->type == NE_EIF_RAMDISK)
			m->nr_ramdisks++;
		info->nr_ramdisks = m->nr_ramdisks;
		if (s->type == NE_EIF_SIGNATURE)
			info->has_signature = true;
	}
	return 0;
io:
	seterr(err, errlen, "cannot read section %d: %s", i,
	       rc == -ENODATA ? "the file is truncated" : strerror(-rc));
	return rc;
}

int ne_eif_read(const char *path, struct ne_eif_info *info, char *err, size_t errlen)
{
	uint8_t hdr[NE_EIF_HDR_SIZE];
	struct meas m = { 0 };
	uint8_t *buf = NULL;
	struct stat st;
	ssize_t got;
	int fd, rc;
	uLong crc;

	memset(info, 0, sizeof(*info));
	if (err && errlen)
		*err = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		seterr(err, errlen, "%s is not a regular file", path);
		rc = -EINVAL;
		goto out;
	}
	info->file_size = st.st_size;
	do
		got = pread(fd, hdr, sizeof(hdr), 0);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot read %s: %s", path, strerror(-rc));
		goto out;
	}
	rc = -EINVAL;
	if (got < 4 || memcmp(hdr, NE_EIF_MAGIC, 4)) {
		seterr(err, errlen, "%s is not an EIF image (no .eif magic)", path);
		goto out;
	}
	if ((size_t)got < sizeof(hdr) || info->file_size < sizeof(hdr)) {
		seterr(err, errlen, "%s is truncated: %zd bytes, shorter than the 548-byte "
		       "EIF header", path, got);
		goto out;
	}
	ne_eif_header_decode(hdr, &info->hdr);
	if (info->hdr.version < NE_EIF_VERSION) {
		seterr(err, errlen, "%s: EIF version %u is not supported (nectl reads "
		       "version 4)", path, info->hdr.version);
		goto out;
	}
	if (check_layout(&info->hdr, info->file_size, err, errlen))
		goto out;

	buf = malloc(IO_CHUNK);
	if (!buf || meas_init(&m)) {
		seterr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, hdr, CRC_OFF);
	rc = read_sections(fd, info, &crc, &m, buf, err, errlen);
	if (rc)
		goto out;
	info->crc = (uint32_t)crc;
	rc = -EINVAL;
	if (!info->nr_kernels)
		seterr(err, errlen, "%s has no kernel section", path);
	else if (!info->nr_cmdlines)
		seterr(err, errlen, "%s has no cmdline section", path);
	else if (!info->nr_ramdisks)
		seterr(err, errlen, "%s has no ramdisk section", path);
	else
		rc = meas_final(&m, info->pcr);
	if (rc)
		goto out;
	info->crc_ok = info->crc == info->hdr.crc;
	if (!info->crc_ok) {
		seterr(err, errlen, "%s is corrupt: CRC mismatch (the header says 0x%08x, the "
		       "contents give 0x%08x)", path, info->hdr.crc, info->crc);
		rc = -EBADMSG;
	}
out:
	close(fd);
	free(buf);
	meas_free(&m);
	return rc;
}

/* ---- describe-eif ---- */

static void text_bytes(const struct ne_eif_text *t)
{
	size_t i;

	for (i = 0; i < t->len; i++) {
		unsigned char c = t->s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	if (t->truncated)
		printf("...");
}

static void json_bytes(const struct ne_eif_text *t)
{
	size_t i;

	putchar('"');
	for (i = 0; i < t->len; i++) {
		unsigned char c = t->s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_str(const char *s)
{
	char esc[3 * 4096 + 1];

	if (json_escape(esc, sizeof(esc), s))
		esc[0] = '\0';
	printf("\"%s\"", esc);
}

static void print_json(const char *path, const struct ne_eif_info *in)
{
	const struct ne_eif_header *h = &in->hdr;
	char hex[2 * NE_SHA384_LEN + 1];
	int i;

	printf("{\n  \"file\": ");
	json_str(path);
	printf(",\n  \"size\": %" PRIu64 ",\n", in->file_size);
	printf("  \"version\": %u,\n  \"flags\": %u,\n  \"arch\": \"%s\",\n", h->version,
	       h->flags, h->flags & NE_EIF_FLAG_AARCH64 ? "aarch64" : "x86_64");
	printf("  \"default_mem\": %" PRIu64 ",\n  \"default_mem_mib\": %" PRIu64 ",\n",
	       h->default_mem, h->default_mem / MiB);
	printf("  \"default_cpus\": %" PRIu64 ",\n  \"section_count\": %u,\n",
	       h->default_cpus, h->nr_sections);
	printf("  \"crc32\": \"0x%08x\",\n  \"crc_ok\": %s,\n", h->crc,
	       in->crc_ok ? "true" : "false");
	printf("  \"sections\": [");
	for (i = 0; i < h->nr_sections; i++)
		printf("%s\n    {\"index\": %d, \"type\": \"%s\", \"offset\": %" PRIu64
		       ", \"size\": %" PRIu64 "}", i ? "," : "", i,
		       ne_eif_type_name(in->sec[i].type), in->sec[i].offset, in->sec[i].size);
	printf("\n  ],\n  \"cmdline\": ");
	json_bytes(&in->cmdline);
	printf(",\n  \"metadata\": ");
	json_bytes(&in->metadata);
	printf(",\n  \"signed\": %s,\n", in->has_signature ? "true" : "false");
	printf("  \"measurements\": {\n    \"hash_algorithm\": \"SHA384\"");
	for (i = 0; i < 3; i++) {
		ne_eif_hex(in->pcr[i], NE_SHA384_LEN, hex);
		printf(",\n    \"PCR%d\": \"%s\"", i, hex);
	}
	printf("\n  }\n}\n");
}

static void print_text(const char *path, const struct ne_eif_info *in)
{
	const struct ne_eif_header *h = &in->hdr;
	char hex[2 * NE_SHA384_LEN + 1];
	int i;

	printf("file:         %s (%" PRIu64 " bytes)\n", path, in->file_size);
	printf("version:      %u\n", h->version);
	printf("flags:        0x%04x (%s)\n", h->flags,
	       h->flags & NE_EIF_FLAG_AARCH64 ? "aarch64" : "x86_64");
	printf("default mem:  %" PRIu64 " MiB (%" PRIu64 " bytes)\n", h->default_mem / MiB,
	       h->default_mem);
	printf("default cpus: %" PRIu64 "\n", h->default_cpus);
	printf("sections:     %u\n", h->nr_sections);
	printf("crc32:        0x%08x (%s)\n", h->crc, in->crc_ok ? "verified" : "MISMATCH");
	for (i = 0; i < h->nr_sections; i++)
		printf("section %-2d    %-9s offset %-12" PRIu64 " size %" PRIu64 "\n", i,
		       ne_eif_type_name(in->sec[i].type), in->sec[i].offset, in->sec[i].size);
	printf("cmdline:      ");
	text_bytes(&in->cmdline);
	printf("\nmetadata:     ");
	text_bytes(&in->metadata);
	printf("\n");
	if (in->has_signature)
		printf("signature:    present (not verified; PCR8 not computed)\n");
	for (i = 0; i < 3; i++) {
		ne_eif_hex(in->pcr[i], NE_SHA384_LEN, hex);
		printf("PCR%d:         %s\n", i, hex);
	}
}

int ne_eif_describe(const char *path, bool json)
{
	struct ne_eif_info *info;
	char err[512];
	int rc;

	info = malloc(sizeof(*info));
	if (!info) {
		ne_err("out of memory");
		return -ENOMEM;
	}
	rc = ne_eif_read(path, info, err, sizeof(err));
	if (rc)
		ne_err("%s", err);
	else if (json)
		print_json(path, info);
	else
		print_text(path, info);
	free(info);
	return rc;
}
