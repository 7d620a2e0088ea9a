//! The conversation questions, drawn from the program's guide, and how a group's three are
//! chosen: none that any member was sent in the past year, rotating through the set.

/// The rotating set. Three go out per person per month, so 36 or more keep a year free of repeats.
pub const QUESTIONS: &[&str] = &[
    "What were the two or three decisions that most changed your career path?",
    "If you were me right now, what would you stop wasting time on?",
    "What did you think you wanted at my stage that turned out to be wrong?",
    "When did you seriously consider quitting or changing direction, and what kept you going?",
    "Who opened a door for you early on, and how did that happen?",
    "What do you know now about this hospital that you wish someone had told you in your first year?",
    "What is a mistake you made that taught you more than any success?",
    "How do you decide what to say no to?",
    "What does a good week at work look like for you now?",
    "Which skill outside your clinical or technical training has mattered most?",
    "How did you find the people you go to for advice?",
    "What is one thing other departments misunderstand about yours?",
    "What part of your work would surprise someone in my role?",
    "How do you recover after a hard shift or a bad day?",
    "What did your path to your current role actually look like, step by step?",
    "What would you do differently if you started your career again tomorrow?",
    "How do you keep learning when nobody is assigning you anything?",
    "What made the best supervisor or team lead you have had so good?",
    "What is a question you wish people asked you more often?",
    "How do you handle disagreement with someone more senior?",
    "What is one small habit that made a big difference to your working life?",
    "What do you look for when you decide to help or sponsor someone?",
    "How do you balance the work you are paid for with the work you care about?",
    "Which part of the patient's journey do you think we most often get wrong, and why?",
    "What is one thing you changed in how the hospital works, and how did you get it done?",
    "How did you choose your specialty or field, and would you choose it again?",
    "What advice did you ignore that turned out to be right?",
    "What do you wish leaders understood about the front line, or the front line about leaders?",
    "How do you prepare for a conversation that matters?",
    "What is the most useful feedback you have received, and how was it given?",
    "What does burnout look like from the inside, and what helped?",
    "How do you make time for life outside work in a job like this?",
    "Where do you see your profession going in the next ten years?",
    "What is something you are working on getting better at right now?",
    "Who else should I talk to, and what should I ask them?",
    "What is a project or idea you would love more people to know about?",
    "What have you learned from a colleague in a completely different profession?",
    "What kind of problem do you most enjoy solving at work?",
    "How do you know when it is time to move on from a role?",
    "What surprised you most when you moved into your current stage of career?",
];

/// Chooses three questions (indices into [`QUESTIONS`]) for a group: ones no member was sent in
/// the past year, starting from a point that rotates with `start`. If the set cannot avoid a
/// repeat (someone has seen almost all), the least-seen questions fill in.
pub fn choose(start: u64, seen: &[&[i64]]) -> [i64; 3] {
    let n = QUESTIONS.len();
    let order = (0..n).map(|i| ((start as usize + i * 7) % n) as i64);
    let mut chosen: Vec<i64> = Vec::with_capacity(3);
    let mut ranked: Vec<(usize, usize, i64)> = order
        .enumerate()
        .map(|(rank, q)| (seen.iter().filter(|s| s.contains(&q)).count(), rank, q))
        .collect();
    ranked.sort();
    for (_, _, q) in ranked {
        if !chosen.contains(&q) {
            chosen.push(q);
        }
        if chosen.len() == 3 {
            break;
        }
    }
    [chosen[0], chosen[1], chosen[2]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_of_rounds_never_repeats_a_question_to_the_same_person() {
        assert!(QUESTIONS.len() >= 36);
        let mut seen: Vec<i64> = Vec::new();
        for month in 0..12u64 {
            let picked = choose(month * 31 + 5, &[&seen]);
            for q in picked {
                assert!(!seen.contains(&q), "question {q} repeated in month {month}");
            }
            seen.extend(picked);
        }
    }

    #[test]
    fn three_distinct_questions_even_when_everything_was_seen() {
        let all: Vec<i64> = (0..QUESTIONS.len() as i64).collect();
        let picked = choose(3, &[&all, &all]);
        assert!(picked[0] != picked[1] && picked[1] != picked[2] && picked[0] != picked[2]);
    }
}
