//! The DSP path allocates nothing per frame: after a warm-up block, pushing
//! more audio through a call's pipeline performs zero heap allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use callscope::pipeline::{CallPipeline, PipelineConfig};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Speech-like bursts alternating between the legs, over light noise.
fn block(rate: u32, start: usize, len: usize, leg: usize) -> Vec<f32> {
    let mut seed = (start as u32).wrapping_mul(2_654_435_761) ^ leg as u32;
    (start..start + len)
        .map(|i| {
            let t = i as f32 / rate as f32;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002;
            let talking = ((t / 1.3) as usize) % 2 == leg;
            let voice: f32 = if talking {
                (1..12)
                    .map(|k| (std::f32::consts::TAU * 150.0 * k as f32 * t).sin() / k as f32)
                    .sum::<f32>()
                    * 0.05
            } else {
                0.0
            };
            voice + noise
        })
        .collect()
}

#[test]
fn pipeline_push_allocates_nothing_after_warm_up() {
    for rate in [8_000u32, 16_000, 44_100] {
        let mut p = CallPipeline::new("alloc".into(), 2, rate, &PipelineConfig::default()).unwrap();
        let mut events = Vec::with_capacity(1024);
        let n = 4096;
        // Prepare 30 s of input outside the counted region.
        let blocks: Vec<[Vec<f32>; 2]> = (0..(rate as usize * 30 / n))
            .map(|b| [block(rate, b * n, n, 0), block(rate, b * n, n, 1)])
            .collect();
        p.push(&[&blocks[0][0], &blocks[0][1]], &mut events);
        events.clear();
        ALLOCS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        for b in &blocks[1..] {
            p.push(&[&b[0], &b[1]], &mut events);
            events.clear();
        }
        COUNTING.store(false, Ordering::SeqCst);
        let allocs = ALLOCS.load(Ordering::SeqCst);
        let frames = p.frames();
        let summary = p.finish(&mut events);
        assert!(
            summary.legs[0].talk_time_s > 5.0,
            "the test signal has talk"
        );
        assert_eq!(
            allocs, 0,
            "{rate} Hz: {allocs} allocations over {frames} frames"
        );
    }
}
