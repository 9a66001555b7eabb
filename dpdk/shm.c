/* SPDX-License-Identifier: BSD-3-Clause */
/* Power-of-two size classes with one free list each, carved from a bump pointer. */
#include "shm.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#define SHM_CLASSES  48
#define SHM_MIN_LOG2 5 /* 32-byte blocks: a 16-byte header and 16 bytes of data */

/* 16 bytes before the data; a free block keeps its list link in the data. */
struct shm_block {
	uint32_t cls;
	uint32_t magic;
	uint64_t unused;
};

static struct shm_block **next_free(struct shm_block *b)
{
	return (struct shm_block **)(b + 1);
}

#define SHM_MAGIC_USED 0x75736564u
#define SHM_MAGIC_FREE 0x66726565u

struct shm_heap {
	size_t size;
	uintptr_t next;  /* bump pointer */
	uintptr_t limit; /* end of the mapping */
	size_t in_use;
	struct shm_block *free[SHM_CLASSES];
};

/* The least address space a heap makes do with when less than asked for is available. */
#define SHM_MIN_VIRT ((size_t)64 << 20)

struct shm_heap *shm_heap_create(size_t virt_size)
{
	/* Address space is not always there to take: a ulimit -v (RLIMIT_AS), valgrind's own
	 * address-space manager. Halve until it fits; the heap runs out later instead, with
	 * ENOMEM where it would have grown. */
	void *m = MAP_FAILED;
	for (;;) {
		m = mmap(NULL, virt_size, PROT_READ | PROT_WRITE,
		         MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED || virt_size / 2 < SHM_MIN_VIRT)
			break;
		virt_size /= 2;
	}
	if (m == MAP_FAILED)
		return NULL;
	struct shm_heap *h = m;
	h->size = virt_size;
	h->next = ((uintptr_t)m + sizeof(*h) + 63) & ~(uintptr_t)63;
	h->limit = (uintptr_t)m + virt_size;
	h->in_use = 0;
	for (int i = 0; i < SHM_CLASSES; i++)
		h->free[i] = NULL;
	return h;
}

void shm_heap_destroy(struct shm_heap *h)
{
	if (h)
		munmap(h, h->size);
}

static uint32_t class_of(size_t total)
{
	uint32_t c = SHM_MIN_LOG2;
	while (c < SHM_CLASSES && ((size_t)1 << c) < total)
		c++;
	return c;
}

void *shm_alloc(struct shm_heap *h, size_t size)
{
	if (size > ((size_t)1 << (SHM_CLASSES - 2))) {
		errno = ENOMEM;
		return NULL;
	}
	uint32_t c = class_of(size + sizeof(struct shm_block));
	if (c >= SHM_CLASSES) {
		errno = ENOMEM;
		return NULL;
	}
	struct shm_block *b = h->free[c];
	if (b) {
		h->free[c] = *next_free(b);
	} else {
		size_t bs = (size_t)1 << c;
		if (h->limit - h->next < bs) {
			errno = ENOMEM;
			return NULL;
		}
		b = (struct shm_block *)h->next;
		h->next += bs;
	}
	b->cls = c;
	b->magic = SHM_MAGIC_USED;
	h->in_use += (size_t)1 << c;
	return b + 1;
}

void shm_free(struct shm_heap *h, void *p)
{
	if (!p)
		return;
	struct shm_block *b = (struct shm_block *)p - 1;
	if (b->magic != SHM_MAGIC_USED || b->cls >= SHM_CLASSES)
		return; /* not ours or freed twice: leaking beats corrupting a shared heap */
	b->magic = SHM_MAGIC_FREE;
	h->in_use -= (size_t)1 << b->cls;
	*next_free(b) = h->free[b->cls];
	h->free[b->cls] = b;
}

size_t shm_heap_in_use(const struct shm_heap *h)
{
	return h->in_use;
}

size_t shm_heap_size(const struct shm_heap *h)
{
	return h->size;
}
