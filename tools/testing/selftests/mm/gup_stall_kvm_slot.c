// SPDX-License-Identifier: GPL-2.0
/*
 * gup_stall_kvm, memslots: a memslot deleted, moved or unmapped, or the
 * VM's fds closed, while a vCPU waits in a stalled fault on it; and
 * KVM_SET_USER_MEMORY_REGION with bad input, which must fail with its
 * documented errno and leave the VM running.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "../kselftest.h"
#include "gup_stall_kvm.h"

#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT	39	/* uapi since 6.8 */
#endif

/* Slot changes while the vCPU waits */

static void do_slot_change(struct gs_job *j)
{
	struct gs_vm *vm = j->ctx;
	struct gs_region *r = vm->r;

	if (j->arg == GS_D_SLOT_DELETE)
		j->ret = gs_vm_set_slot(vm, GS_VM_MEM_SLOT, GS_VM_MEM_GPA,
					r->map, 0, 0);
	else
		j->ret = gs_vm_set_slot(vm, GS_VM_MEM_SLOT, GS_VM_MOVED_GPA,
					r->map, r->map_len, 0);
	j->err = errno;
}

/*
 * The vCPU's access ends in a KVM_EXIT_MMIO for a guest address that no
 * longer has memory: the slot it stalled on is gone from there. What the
 * guest copied before that point is right; a write exit carries the
 * guest's next dword.
 */
static void check_mmio_exit(const struct gs_cell *c, struct gs_vm *vm,
			    struct gs_job *vcpu)
{
	bool write = c->caller == K_WRITE;
	struct kvm_run *run = vm->run;
	__u64 a = run->mmio.phys_addr;
	size_t done = a - GS_VM_MEM_GPA;
	__u64 want;

	if (vcpu->ret)
		gs_fail("KVM_RUN after the slot change failed: %s",
			strerrorname_np(vcpu->err) ?: "?");
	if (run->exit_reason == KVM_EXIT_IO) {
		gs_vm_check_report(vm, vcpu);
		gs_fail("the guest finished its copy through a slot that was gone");
	}
	if (run->exit_reason != KVM_EXIT_MMIO)
		gs_fail("KVM_RUN after the slot change: %s (%u), want KVM_EXIT_MMIO",
			gs_kvm_exit_name(run->exit_reason), run->exit_reason);
	if (run->mmio.is_write != write || run->mmio.len != 4 ||
	    a < GS_VM_MEM_GPA + HELD * vm->r->psize || a >= GS_VM_MEM_GPA + vm->r->len)
		gs_fail("KVM_EXIT_MMIO %s of %u bytes at %#llx, want a 4-byte %s %s",
			run->mmio.is_write ? "write" : "read", run->mmio.len,
			(unsigned long long)a, write ? "write" : "read",
			"in the held page or after");
	if (write) {
		gs_check_data("the host mapping before the exit", vm->r->addr,
			      done & ~7UL, SEED_GUEST, 0);
		gs_fill(&want, sizeof(want), SEED_GUEST, done & ~7UL);
		if (memcmp(run->mmio.data, (char *)&want + (done & 7), 4))
			gs_fail("KVM_EXIT_MMIO write data is not the guest's");
	} else {
		gs_check_data("what the guest read before the exit",
			      vm->low + GS_VM_RES_GPA, done & ~7UL, SEED_MEM, 0);
	}
	gs_note("KVM_EXIT_MMIO %s at %#llx", write ? "write" : "read",
		(unsigned long long)a);
}

/*
 * A memslot update waits (synchronize_srcu_expedited in
 * kvm_swap_active_memslots) for every vCPU inside its kvm->srcu read
 * side, and a vCPU waiting in a fault is inside (vcpu_run holds it): the
 * update must not finish before the page is resolved, and must finish
 * after.
 */
static void slot_change(const struct gs_cell *c, struct gs_vm *vm,
			struct gs_staller *st, struct gs_job *vcpu)
{
	bool want_early = gs_inject == GS_INJECT_ORDER;
	const char *what = gs_disturb_names[c->disturb];
	struct gs_job slot;
	bool early;

	gs_job_start(&slot, do_slot_change, vm, c->disturb);
	gs_phase("waiting for the slot change while the vCPU is stalled");
	early = gs_job_wait(&slot, PENDING_MS);
	if (early != want_early)
		gs_fail("memslot order: %s %s the stalled vCPU let go (kvm->srcu), want %s",
			what, early ? "completed before" : "waited for",
			want_early ? "done before" : "after the release");
	gs_staller_release(st, HELD);
	gs_staller_release_all(st);
	gs_phase("waiting for the slot change after the release");
	if (!early && !gs_job_wait(&slot, GS_WAIT_MS))
		gs_fail("%s still blocked %d ms after the release", what,
			GS_WAIT_MS);
	if (slot.ret)
		gs_fail("%s of the stalled slot: %s", what,
			strerrorname_np(slot.err) ?: "?");
	gs_note("%s waited for the stalled vCPU (SRCU)", what);
	gs_phase("waiting for KVM_RUN after the slot change");
	if (!gs_job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the slot change",
			GS_WAIT_MS);
	check_mmio_exit(c, vm, vcpu);
}

/*
 * munmap of the host range behind the slot: the writer of mmap_lock gets
 * in because the vCPU dropped it; the vCPU, woken, finds no VMA and
 * KVM_RUN fails with EFAULT.
 */
static void slot_munmap(struct gs_vm *vm, struct gs_region *r,
			struct gs_staller *st, struct gs_job *vcpu)
{
	int err;

	if (munmap(r->map, r->map_len))
		gs_fail("munmap behind the stalled slot: %s", strerror(errno));
	r->map = NULL;
	err = gs_staller_release(st, HELD);
	gs_note("resolving the unmapped page: %s, woken",
		err ? strerrorname_np(err) : "done");
	gs_staller_release_all(st);
	gs_phase("waiting for KVM_RUN after the munmap");
	if (!gs_job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after the munmap",
			GS_WAIT_MS);
	gs_check_err("KVM_RUN on an unmapped slot", vcpu->ret, vcpu->err,
		     EFAULT);
	gs_note("KVM_RUN failed with EFAULT (%s)",
		vm->run->exit_reason == KVM_EXIT_MEMORY_FAULT ?
		"KVM_EXIT_MEMORY_FAULT" : "no exit information");
}

/*
 * Closing every fd of the VM while KVM_RUN waits: the running ioctl
 * keeps the vCPU and VM alive, finishes once the page is resolved, and
 * the VM goes away with it.
 */
static void close_fds(struct gs_vm *vm, struct gs_staller *st, struct gs_job *vcpu)
{
	close(vm->vcpu);
	close(vm->fd);
	close(vm->kvm);
	gs_staller_release(st, HELD);
	gs_staller_release_all(st);
	gs_phase("waiting for KVM_RUN after closing the VM's fds");
	if (!gs_job_wait(vcpu, GS_WAIT_MS))
		gs_fail("KVM_RUN still blocked %d ms after close and release",
			GS_WAIT_MS);
	gs_vm_check_report(vm, vcpu);
	munmap(vm->run, vm->run_size);
	vm->run = NULL;
}

void run_slot(const struct gs_cell *c)
{
	struct gs_staller *st;
	struct gs_region r;
	struct gs_job vcpu;
	struct gs_vm vm;

	st = stall_vcpu(c, &vm, &r, &vcpu, NULL);
	switch (c->disturb) {
	case GS_D_SLOT_DELETE:
	case GS_D_SLOT_MOVE:
		slot_change(c, &vm, st, &vcpu);
		break;
	case GS_D_MUNMAP:
		slot_munmap(&vm, &r, st, &vcpu);
		break;
	case GS_D_CLOSE_FDS:
		close_fds(&vm, st, &vcpu);
		check_access(&vm, c->caller);
		gs_staller_check_msgs(st, 0, r.npages - 1,
				      c->caller == K_WRITE);
		munmap(vm.low, GS_VM_LOW_SIZE);
		gs_staller_stop(st);
		gs_region_unmap(&r);
		return;
	}
	gs_staller_stop(st);
	gs_vm_destroy(&vm);
	gs_region_unmap(&r);
}

/* KVM_SET_USER_MEMORY_REGION with bad input */

struct bad_slot {
	__u32 slot;
	__u32 flags;
	__u64 gpa;
	__u64 size;
	unsigned long hva;
	int err;
	const char *why;
};

/* A field out of line: alignment, slot id, address space, flags. */
static void bad_field(int d, struct gs_vm *vm, struct bad_slot *b)
{
	int nslots = ioctl(vm->kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);

	switch (d) {
	case GS_D_BAD_SIZE:
		b->size = vm->r->map_len - 512;
		b->why = "memory_size not page aligned";
		break;
	case GS_D_BAD_GPA:
		b->gpa += 2048;
		b->why = "guest_phys_addr not page aligned";
		break;
	case GS_D_BAD_HVA:
		b->hva += 2048;
		b->why = "userspace_addr not page aligned";
		break;
	case GS_D_BAD_SLOT:
		b->slot = nslots > 0 ? nslots : 0xffff;
		b->why = "slot id at KVM_CAP_NR_MEMSLOTS";
		break;
	case GS_D_BAD_AS:
		/* x86 has two address spaces (normal, SMM) at most */
		b->slot |= 2 << 16;
		b->why = "address space 2";
		break;
	case GS_D_BAD_FLAGS:
		b->flags = 1U << 30;
		b->why = "unknown flag";
		break;
	}
}

/* A range KVM must refuse, or a change of slot 1 it must refuse. */
static void bad_range(int d, struct gs_vm *vm, struct bad_slot *b)
{
	__u64 size = vm->r->map_len;

	switch (d) {
	case GS_D_TOO_LARGE:
		/* more pages than KVM_MEM_MAX_NR_PAGES (2^31 - 1) */
		b->size = 1ULL << 43;
		b->gpa = 0;
		b->why = "2^31 pages";
		break;
	case GS_D_GPA_WRAP:
		b->gpa = -(__u64)getpagesize();
		b->why = "guest_phys_addr + memory_size wraps";
		break;
	case GS_D_KERNEL_HVA:
		b->hva = 0xffff888000000000UL;
		b->why = "userspace_addr in the kernel half";
		break;
	case GS_D_OVERLAP:
		b->gpa = GS_VM_MEM_GPA + size - getpagesize();
		b->err = EEXIST;
		b->why = "guest range overlaps slot 1";
		break;
	case GS_D_RESIZE:
		b->slot = GS_VM_MEM_SLOT;
		b->gpa = GS_VM_MEM_GPA;
		b->size = size - getpagesize();
		b->why = "a new size for slot 1";
		break;
	case GS_D_NEW_HVA:
		b->slot = GS_VM_MEM_SLOT;
		b->gpa = GS_VM_MEM_GPA;
		b->hva = (unsigned long)vm->low;
		b->why = "a new userspace_addr for slot 1";
		break;
	case GS_D_DELETE_ABSENT:
		b->slot = 5;
		b->size = 0;
		b->why = "deleting a slot that does not exist";
		break;
	}
}

static struct bad_slot bad_input(const struct gs_cell *c, struct gs_vm *vm)
{
	struct bad_slot b = {
		.slot = 2, .gpa = GS_VM_MOVED_GPA, .size = vm->r->map_len,
		.hva = (unsigned long)vm->r->map, .err = EINVAL,
	};

	bad_field(c->disturb, vm, &b);
	bad_range(c->disturb, vm, &b);
	return b;
}

/*
 * One bad KVM_SET_USER_MEMORY_REGION: the documented error, and the VM
 * still runs the guest over the slots it had.
 */
void run_memslot(const struct gs_cell *c)
{
	struct gs_region r;
	struct bad_slot b;
	char what[160];
	struct gs_vm vm;
	long ret;

	gs_vm_create(&vm);
	gs_region_map(&r, c->b, c->npages);
	gs_fill(r.addr, r.len, SEED_MEM, 0);
	gs_vm_add_region(&vm, &r);
	b = bad_input(c, &vm);
	ret = gs_vm_set_slot(&vm, b.slot, b.gpa, (void *)b.hva, b.size, b.flags);
	snprintf(what, sizeof(what), "KVM_SET_USER_MEMORY_REGION (%s)", b.why);
	gs_check_err(what, ret, errno, b.err);
	vm_set_access(&vm, K_READ);
	gs_vm_run(&vm, "after the bad memslot call");
	check_access(&vm, K_READ);
	gs_vm_destroy(&vm);
	gs_region_unmap(&r);
}
